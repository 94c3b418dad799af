/* bench_vulndb.c: lookup and match cost of the compiled vulnerability database.
 *   bench-vulndb DB OCI_LAYOUT_DIR...
 * For each image: its inventory (read once), then the median over repeated runs of
 *  - one lookup per package (ecosystem, feed name), in ns per lookup;
 *  - scan_match over the whole inventory (lookups, range evaluation, findings, fix plan);
 *    its first run for the image is reported apart (pages of the mapping not yet touched).
 * Prints one JSON object per image. Not a test: bench/run.sh calls it. */
#include "common/dd.h"
#include "common/arena.h"
#include "common/util.h"
#include "image/image.h"
#include "inventory/inventory.h"
#include "scan/findings.h"
#include "scan/match.h"
#include "vulndb/vulndb.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#define ROUNDS 21

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench-vulndb DB OCI_LAYOUT_DIR...\n");
		return 2;
	}
	struct vulndb *db;
	const char *why;
	util_tune_malloc(); /* as drydock serve and drydock scan run */
	double t0 = now();
	if (vulndb_open(argv[1], &db, &why)) {
		fprintf(stderr, "bench-vulndb: %s\n", why);
		return 1;
	}
	double open_ms = (now() - t0) * 1e3;
	for (int i = 2; i < argc; i++) {
		struct arena a = {0};
		struct image img = {.want_index = -1};
		struct inventory inv;
		inventory_init(&inv, &a);
		if (image_open_oci_layout(&a, argv[i], NULL, &img, &why) || image_inventory(&a, &img, NULL, &inv, &why)) {
			fprintf(stderr, "bench-vulndb: %s: %s\n", argv[i], why);
			return 1;
		}
		const char *eco;
		if (match_ecosystem(&a, &inv, &eco, &why)) {
			fprintf(stderr, "bench-vulndb: %s: %s\n", argv[i], why);
			return 1;
		}
		const char **names = arena_alloc(&a, (inv.n + 1) * sizeof(*names));
		for (size_t p = 0; p < inv.n; p++)
			names[p] = inv.pkgs[p].source_name && *inv.pkgs[p].source_name ? inv.pkgs[p].source_name
											 : inv.pkgs[p].name;
		double lookup[ROUNDS], match[ROUNDS], first;
		size_t hits = 0, findings = 0, entries = 0;
		{
			struct arena m = {0};
			struct scan_result res;
			double s = now();
			scan_match(&m, db, &inv, &res, &why);
			first = (now() - s) * 1e3;
			arena_free(&m);
		}
		for (size_t p = 0; p < inv.n; p++) {
			size_t n;
			vulndb_lookup(db, eco, names[p], &n);
			entries += n;
		}
		for (int r = 0; r < ROUNDS; r++) {
			int reps = 2000;
			double s = now();
			for (int k = 0; k < reps; k++)
				for (size_t p = 0; p < inv.n; p++) {
					size_t n;
					vulndb_lookup(db, eco, names[p], &n);
					hits += n != 0;
				}
			lookup[r] = (now() - s) / ((double)reps * (double)inv.n) * 1e9;
			int mreps = 20;
			s = now();
			for (int k = 0; k < mreps; k++) {
				struct arena m = {0};
				struct scan_result res;
				scan_match(&m, db, &inv, &res, &why);
				findings = res.n;
				arena_free(&m);
			}
			match[r] = (now() - s) / mreps * 1e3;
		}
		qsort(lookup, ROUNDS, sizeof(double), dcmp);
		qsort(match, ROUNDS, sizeof(double), dcmp);
		printf("{\"image\": \"%s\", \"ecosystem\": \"%s\", \"packages\": %zu, \"findings\": %zu, \"entries\": %zu, "
		       "\"open_ms\": %.3f, \"lookup_ns_median\": %.1f, \"match_first_ms\": %.3f, \"match_ms_median\": %.3f, "
		       "\"match_us_per_package\": %.2f}\n",
		       argv[i], eco, inv.n, findings, entries, open_ms, lookup[ROUNDS / 2], first, match[ROUNDS / 2],
		       match[ROUNDS / 2] * 1e3 / (double)inv.n);
		(void)hits;
		arena_free(&a);
	}
	vulndb_close(db);
	return 0;
}
