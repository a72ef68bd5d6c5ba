/* AF_VSOCK is Linux-only: on other systems the addon exports nothing, and the TypeScript side
 * reports ERR_TRANSPORT_VSOCK_UNAVAILABLE when a vsock:// address is used. */
#include <node_api.h>

static napi_value init(napi_env env, napi_value exports) {
  (void)env;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
