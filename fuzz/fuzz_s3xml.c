/* fuzz_s3xml.c: the readers of S3's XML answers (listings, parts, errors, UploadId) stay
 * inside their input and their output buffers whatever an S3 endpoint sends. */
#include "common/dd.h"
#include "store/s3.h"
#include "fuzz.h"

int fuzz_s3xml(const uint8_t *data, size_t size)
{
	char *xml = malloc(size + 1);
	if (!xml)
		return 0;
	memcpy(xml, data, size);
	xml[size] = 0;
	static const char *const tags[] = {"Key", "Size", "ETag", "UploadId", "IsTruncated", "NextContinuationToken",
					   "PartNumber", "Code", "Message", "LastModified"};
	char out[64];
	for (size_t i = 0; i < DD_ARRAY_LEN(tags); i++) {
		if (s3_xml_text(xml, tags[i], out, sizeof(out)) == 0 && strlen(out) >= sizeof(out))
			abort();
		if (s3_xml_text(xml, tags[i], out, 1) == 0 && out[0])
			abort();
	}
	static const char *const items[] = {"Contents", "Part", "Upload"};
	for (size_t i = 0; i < DD_ARRAY_LEN(items); i++) {
		const char *pos = xml, *a, *b;
		int n = 0;
		while (!s3_xml_next(&pos, items[i], &a, &b)) {
			if (a < xml || b < a || b > xml + size || pos <= b || pos > xml + size || ++n > (int)size)
				abort();
		}
	}
	free(xml);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_s3xml)
