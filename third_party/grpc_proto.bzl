"""Protobuf + gRPC C++ code generation with Debian's protoc, fully offline.

Bazel's native cc_proto_library needs @com_google_protobuf, which cannot be fetched here, so a
genrule runs /usr/bin/protoc and grpc_cpp_plugin. Protos import each other by paths relative to
the workspace root (for example `import "api/node.proto";`).
"""

def grpc_cc_proto(name, srcs, deps = [], visibility = None):
    """Generates `name`: a cc_library with the messages and gRPC stubs of `srcs`.

    Args:
      name: the cc_library's name.
      srcs: .proto files in this package.
      deps: other grpc_cc_proto targets whose protos these import.
      visibility: as for cc_library.
    """
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc", base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    proto_deps = [d + "_protos" for d in deps]
    native.filegroup(name = name + "_protos", srcs = srcs + proto_deps, visibility = visibility)
    native.genrule(
        name = name + "_gen",
        srcs = srcs + proto_deps,
        outs = outs,
        cmd = ("protoc -I. --cpp_out=$(GENDIR) --grpc_out=$(GENDIR) " +
               "--plugin=protoc-gen-grpc=$$(which grpc_cpp_plugin) " +
               " ".join(["$(location %s)" % s for s in srcs])),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["//third_party:grpc", "//third_party:protobuf"],
        copts = ["-w"],
        visibility = visibility,
    )
