#!/usr/bin/python3
"""Runs one command against a real Tessera cluster: the production binaries as separate processes.

usage: s3_cluster.py --node=PATH --s3=PATH [--nodes=6] [--sites=3] [--k=4] [--m=2]
                     [--users=alice,bob] -- COMMAND [ARG...]

What it starts, all on 127.0.0.1 (port 0), data under $TEST_TMPDIR/cluster (or a fresh temp dir):
  * a cluster secret (tessera-node --generate_cluster_secret), a master key file and one S3 user
    per --users name with a random access key and secret (all mode 0600);
  * --nodes tessera-node processes in --sites sites (node i in site i % sites, its own host
    label), node0 first as the gossip seed, each serving its slices and its share of the
    replicated metadata (MetaService), every call authenticated with the cluster secret; the
    way `tessera dev` (services/cli/dev_cluster.cc) and tests/cluster/process_cluster.h do it;
  * one tessera-s3 joined to the nodes by --seeds, erasure code k+m.

Healthy means: every port file written, the S3 admin /healthz answers 200, tessera-s3 loaded a
metadata layout holding all --nodes members (its meta_layout_loaded log line), and a SigV4-signed
ListBuckets (which reads the replicated metadata) answers 200.

Then COMMAND runs with stdin from /dev/null and these in its environment (also written to
<dir>/s3.env, mode 0600): AWS_ENDPOINT_URL, PORT (the S3 port), AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (the first user), AWS_DEFAULT_REGION, <USER>_KEY / <USER>_SECRET for every
user (upper-case name), and TESSERA_E2E_PIDS (the server processes, for liveness checks).

Exit status: COMMAND's, or 1 if the cluster did not become healthy, a server process died while
COMMAND ran, or a server did not exit cleanly (status 0) on SIGTERM. Server logs are printed
(tails) on any failure.

Teardown, always (also on failure, SIGTERM, SIGINT, or the death of our parent): COMMAND (its
process group) gets SIGTERM, then tessera-s3, then the nodes (SIGTERM; SIGKILL after 30 s). Every
server is started with PR_SET_PDEATHSIG=SIGKILL, so even a SIGKILL of this launcher leaves no
server behind. Only Debian's python3 standard library is used.
"""
import argparse
import ctypes
import datetime
import hashlib
import hmac
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PR_SET_PDEATHSIG = 1
START_TIMEOUT = 90  # seconds, for each wait below (2 shared cores)
STOP_TIMEOUT = 30


class Failure(Exception):
    """The cluster could not be started or misbehaved; the message says what."""


class Terminated(Exception):
    """We were asked to stop (SIGTERM, SIGINT)."""


def _on_signal(signum, _frame):
    raise Terminated(signal.Signals(signum).name)


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent(sig):
    """Asks the kernel to send `sig` to this process when its parent exits."""
    _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _child_setup():
    # In the child between fork and exec: a server never outlives this launcher.
    _die_with_parent(signal.SIGKILL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


class Server:
    """One server process: its command line, log (stdout and stderr) and port file."""

    def __init__(self, name, argv, root):
        self.name = name
        self.log_path = os.path.join(root, 'logs', name + '.log')
        self.port_file = os.path.join(root, 'run', name + '.ports')
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(argv + ['--port_file=' + self.port_file],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         preexec_fn=_child_setup, close_fds=True)

    def running(self):
        return self.proc.poll() is None

    def wait_ports(self):
        """The key=value pairs of the port file, once written (Failure on exit or timeout)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    return dict(kv.split('=', 1) for kv in f.read().split())
            if not self.running():
                raise Failure('%s exited with status %s before serving' %
                              (self.name, self.proc.returncode))
            time.sleep(0.05)
        raise Failure('%s wrote no port file within %d s' % (self.name, START_TIMEOUT))

    def log_text(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit status (negative: signal)."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure('%s did not stop within %d s of SIGTERM' % (self.name, STOP_TIMEOUT))


def _random_string(n, alphabet):
    return ''.join(secrets.choice(alphabet) for _ in range(n))


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text)


def _sigv4_list_buckets(port, access_key, secret_key, region='us-east-1'):
    """GET / (ListBuckets) signed with SigV4 (header form, empty payload); the HTTP status."""
    host = '127.0.0.1:%d' % port
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime('%Y%m%dT%H%M%SZ'), now.strftime('%Y%m%d')
    payload = hashlib.sha256(b'').hexdigest()
    signed = 'host;x-amz-content-sha256;x-amz-date'
    canonical = '\n'.join(['GET', '/', '', 'host:' + host, 'x-amz-content-sha256:' + payload,
                           'x-amz-date:' + amz_date, '', signed, payload])
    scope = '%s/%s/s3/aws4_request' % (day, region)
    to_sign = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ('AWS4' + secret_key).encode()
    for part in (day, region, 's3', 'aws4_request'):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request('http://%s/' % host, headers={
        'x-amz-date': amz_date, 'x-amz-content-sha256': payload,
        'Authorization': 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' %
                         (access_key, scope, signed, signature)})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def _http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


class Cluster:
    """The servers of one test run; stop() tears them all down."""

    def __init__(self, args, root):
        self.args = args
        self.root = root
        self.nodes = []
        self.s3 = None
        self.env = {}

    def servers(self):
        return self.nodes + ([self.s3] if self.s3 else [])

    def start(self):
        a, root = self.args, self.root
        for sub in ('logs', 'run'):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        secret_file = os.path.join(root, 'cluster.secret')
        subprocess.run([a.node, '--generate_cluster_secret=' + secret_file], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        key_file = os.path.join(root, 'master.key')  # format: storage/crypto/key_file.h
        _write_private(key_file, '# Tessera master keys (test)\n1 %s\nactive 1\n' %
                       secrets.token_hex(32))
        users = []
        for name in a.users.split(','):
            users.append((name, 'E2E' + _random_string(17, string.ascii_uppercase + string.digits),
                          _random_string(40, string.ascii_letters + string.digits)))
        credentials = os.path.join(root, 'users.ini')
        _write_private(credentials, ''.join('[%s]\naccess_key = %s\nsecret_key = %s\n' % u
                                            for u in users))

        # node0 first: its gossip address seeds the others' membership.
        seed = None
        for i in range(a.nodes):
            argv = [a.node, '--data_dir=%s/node%d' % (root, i), '--listen=127.0.0.1:0',
                    '--admin_listen=127.0.0.1:0', '--gossip_listen=127.0.0.1:0',
                    '--site=site%d' % (i % a.sites), '--zone=e2e', '--host=e2e-node%d' % i,
                    '--reserved_bytes=0', '--cluster_secret_file=' + secret_file,
                    '--log_level=warning', '--shutdown_grace=2s']
            if seed:
                argv.append('--seeds=' + seed)
            self.nodes.append(Server('node%d' % i, argv, root))
            if i == 0:
                seed = self.nodes[0].wait_ports()['gossip_address']
        grpc = ['127.0.0.1:' + n.wait_ports()['grpc_port'] for n in self.nodes]

        # INFO level: its meta_layout_loaded line shows the layout it found or proposed.
        self.s3 = Server('s3', [a.s3, '--listen=127.0.0.1:0', '--admin_listen=127.0.0.1:0',
                                '--master_key_file=' + key_file,
                                '--cluster_secret_file=' + secret_file,
                                '--credentials_file=' + credentials, '--seeds=' + ','.join(grpc),
                                '--region=us-east-1', '--k=%d' % a.k, '--m=%d' % a.m,
                                '--log_level=info'], root)
        ports = self.s3.wait_ports()
        port = int(ports['s3_port'])
        self._wait_healthy(port, int(ports['admin_port']), users[0])

        env = {'AWS_ENDPOINT_URL': 'http://127.0.0.1:%d' % port, 'PORT': str(port),
               'AWS_ACCESS_KEY_ID': users[0][1], 'AWS_SECRET_ACCESS_KEY': users[0][2],
               'AWS_DEFAULT_REGION': 'us-east-1',
               'TESSERA_E2E_PIDS': ' '.join(str(s.proc.pid) for s in self.servers())}
        for name, access_key, secret_key in users:
            env[name.upper() + '_KEY'] = access_key
            env[name.upper() + '_SECRET'] = secret_key
        _write_private(os.path.join(root, 's3.env'),
                       ''.join('%s=%s\n' % kv for kv in sorted(env.items())))
        self.env = env

    def _wait_healthy(self, port, admin_port, user):
        deadline = time.monotonic() + START_TIMEOUT
        while _http_status('http://127.0.0.1:%d/healthz' % admin_port) != 200:
            self._check_alive()
            if time.monotonic() > deadline:
                raise Failure('tessera-s3 /healthz did not answer 200 within %d s' % START_TIMEOUT)
            time.sleep(0.1)
        # Written before the S3 port opened: the layout the metadata client follows.
        layout = re.search(r'event=meta_layout_loaded .*?members=(\d+)', self.s3.log_text())
        if not layout or int(layout.group(1)) != self.args.nodes:
            raise Failure('tessera-s3 loaded a metadata layout of %s members, not all %d nodes' %
                          (layout.group(1) if layout else 'no', self.args.nodes))
        while True:
            status = _sigv4_list_buckets(port, user[1], user[2])
            if status == 200:
                return
            self._check_alive()
            if time.monotonic() > deadline:
                raise Failure('a signed ListBuckets answered %s, not 200, for %d s' %
                              (status, START_TIMEOUT))
            time.sleep(0.2)

    def _check_alive(self):
        dead = ['%s (status %s)' % (s.name, s.proc.returncode)
                for s in self.servers() if not s.running()]
        if dead:
            raise Failure('server process died: ' + ', '.join(dead))

    def check_alive(self):
        self._check_alive()

    def stop(self):
        """Front end first, then the nodes; the problems seen (empty when all exited 0)."""
        problems = []
        for group in ([self.s3] if self.s3 else [], self.nodes):
            for s in group:
                if s.running():
                    s.proc.send_signal(signal.SIGTERM)
            for s in group:
                try:
                    status = s.stop()
                    if status != 0:
                        problems.append('%s exited with status %d on SIGTERM' % (s.name, status))
                except Failure as e:
                    problems.append(str(e))
        return problems

    def print_logs(self):
        for s in self.servers():
            lines = s.log_text().splitlines()[-25:]
            print('--- %s log (%s), last %d lines ---' % (s.name, s.log_path, len(lines)))
            print('\n'.join(lines))


def _stop_command(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(STOP_TIMEOUT)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--node', required=True, help='tessera-node binary')
    parser.add_argument('--s3', required=True, help='tessera-s3 binary')
    parser.add_argument('--nodes', type=int, default=6)
    parser.add_argument('--sites', type=int, default=3)
    parser.add_argument('--k', type=int, default=4)
    parser.add_argument('--m', type=int, default=2)
    parser.add_argument('--users', default='alice,bob', help='S3 users; the first signs')
    parser.add_argument('command', nargs=argparse.REMAINDER, help='-- COMMAND [ARG...]')
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    if not command:
        parser.error('no command')
    args.node, args.s3 = os.path.realpath(args.node), os.path.realpath(args.s3)
    command[0] = os.path.realpath(command[0])

    # Tear down on SIGTERM / SIGINT, and when whoever started us dies (even by SIGKILL).
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    _die_with_parent(signal.SIGTERM)
    if os.getppid() == 1:
        return 1

    tmp = os.environ.get('TEST_TMPDIR')
    root = os.path.join(tmp, 'cluster') if tmp else tempfile.mkdtemp(prefix='tessera-e2e-')
    shutil.rmtree(root, ignore_errors=True)  # a rerun in the same TEST_TMPDIR starts afresh
    os.makedirs(root, mode=0o700)
    cluster = Cluster(args, root)
    proc = None
    status = 1
    failed = True
    try:
        started = time.monotonic()
        cluster.start()
        print('s3_cluster: %d nodes in %d sites (k=%d, m=%d) + tessera-s3 on %s, healthy after '
              '%.1f s' % (args.nodes, args.sites, args.k, args.m,
                          cluster.env['AWS_ENDPOINT_URL'], time.monotonic() - started),
              flush=True)
        env = dict(os.environ, **cluster.env)
        # Its own process group, stopped as a whole; it too dies with us.
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_child_setup)
        status = proc.wait()
        if status < 0:
            status = 128 - status  # killed by a signal: the shell's convention
        cluster.check_alive()
        failed = status != 0
    except Failure as e:
        print('s3_cluster: FAILED: %s' % e, flush=True)
    except Terminated as e:
        print('s3_cluster: stopping on %s' % e, flush=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the teardown itself is not interrupted
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_command(proc)
        problems = cluster.stop()
        for p in problems:
            print('s3_cluster: FAILED: %s' % p, flush=True)
        if failed or problems:
            cluster.print_logs()
            status = status or 1
    return status


if __name__ == '__main__':
    sys.exit(main())
