/* fuzz.h: the fuzz targets. Each checks invariants and abort()s when one breaks. Built
 * with libFuzzer by `make fuzz`, and replayed over fuzz/corpus/ by the normal test run. */
#ifndef DD_FUZZ_H
#define DD_FUZZ_H
#include <stddef.h>
#include <stdint.h>

int fuzz_digest(const uint8_t *data, size_t size);
int fuzz_names(const uint8_t *data, size_t size);
int fuzz_range(const uint8_t *data, size_t size);
int fuzz_manifest(const uint8_t *data, size_t size);
int fuzz_version(const uint8_t *data, size_t size);
int fuzz_pkgdb(const uint8_t *data, size_t size);
int fuzz_layer(const uint8_t *data, size_t size);
int fuzz_osv(const uint8_t *data, size_t size);
int fuzz_secdb(const uint8_t *data, size_t size);
int fuzz_distro(const uint8_t *data, size_t size);
int fuzz_vulndb(const uint8_t *data, size_t size);
int fuzz_auth(const uint8_t *data, size_t size);
int fuzz_jwt(const uint8_t *data, size_t size);
int fuzz_http1(const uint8_t *data, size_t size);
int fuzz_sandbox(const uint8_t *data, size_t size);
int fuzz_query(const uint8_t *data, size_t size);
int fuzz_admission(const uint8_t *data, size_t size);
int fuzz_vex(const uint8_t *data, size_t size);
int fuzz_langfeed(const uint8_t *data, size_t size);
int fuzz_lang(const uint8_t *data, size_t size);
int fuzz_s3xml(const uint8_t *data, size_t size);
int fuzz_netaddr(const uint8_t *data, size_t size);

#ifdef DD_LIBFUZZER
#define DD_FUZZ_ENTRY(fn) \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fn(data, size); }
#else
#define DD_FUZZ_ENTRY(fn)
#endif
#endif
