/* err.c: lookups into the error table of err.h. Nothing else lives here. */
#include "dd.h"
#include "err.h"

#define X(name, status, code, msg) msg,
static const char *const messages[] = {DD_ERR_MAP(X)};
#undef X
#define X(name, status, code, msg) code,
static const char *const oci_codes[] = {DD_ERR_MAP(X)};
#undef X
#define X(name, status, code, msg) status,
static const int statuses[] = {DD_ERR_MAP(X)};
#undef X

static int in_range(int err) { return err >= 0 && err < DD_E__COUNT; }

const char *dd_err_message(int err) { return in_range(err) ? messages[err] : "unknown error"; }
const char *dd_err_oci_code(int err) { return in_range(err) ? oci_codes[err] : "UNKNOWN"; }
int dd_err_http_status(int err) { return in_range(err) ? statuses[err] : 500; }
