"""One shape for the S3 end-to-end tests: a client script run by s3_cluster.py against a real cluster."""

_NODE = "//services/node:tessera-node"
_S3 = "//services/s3:tessera-s3"

def s3_e2e_test(name, data = [], timeout = "long"):
    """An exclusive test `name`: s3_cluster.py starts the cluster and runs `name`.sh against it.

    The cluster (6 tessera-node processes in 3 sites, k=4 m=2, metadata replicated on the nodes,
    one tessera-s3, users alice and bob) is started once for the target and torn down after it.

    Args:
      name: the test; its client script is `name`.sh in this package (it sources s3_e2e_lib.sh).
      data: extra files the script reads (Python or JS helpers).
      timeout: Bazel's test timeout class (long = 900 s; 2 shared cores).
    """
    native.sh_test(
        name = name,
        size = "large",
        timeout = timeout,
        srcs = ["s3_cluster.py"],
        args = [
            "--node=$(location %s)" % _NODE,
            "--s3=$(location %s)" % _S3,
            "--users=alice,bob",
            "--",
            "$(location %s.sh)" % name,
        ],
        data = data + [name + ".sh", "s3_e2e_lib.sh", _NODE, _S3],
        tags = [
            "exclusive",
            "requires-network",
        ],
    )
