"""One shape for the S3 end-to-end tests: a shell test that gets the dev S3 server's path."""

_SERVER = "//services/s3/handlers:s3_dev_server"

def s3_e2e_test(name, data = [], uses_lib = True):
    """A large, exclusive sh_test `name` running `name`.sh against s3_dev_server.

    Args:
      name: the test; its script is `name`.sh in this package.
      data: extra files the script reads (Python or JS helpers).
      uses_lib: whether the script sources s3_e2e_lib.sh.
    """
    native.sh_test(
        name = name,
        size = "large",
        srcs = [name + ".sh"],
        args = ["$(location %s)" % _SERVER],
        data = data + (["s3_e2e_lib.sh"] if uses_lib else []) + [_SERVER],
        tags = [
            "exclusive",
            "requires-network",
        ],
    )
