{
  "targets": [
    {
      "target_name": "cocoon_vsock",
      "sources": ["vsock.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [["OS!='linux'", { "sources!": ["vsock.c"], "sources": ["unsupported.c"] }]]
    }
  ]
}
