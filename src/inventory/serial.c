/* serial.c: an inventory as compact JSON and back, so that a stored image can be re-matched
 * against a new vulnerability database without reading a layer again. The text is drydock's
 * own (stored in the metadata store, never exchanged): {"os": {...}, "p": [[type, name,
 * version, arch, source_name, source_version, release, epoch (-1: none), modularity_label,
 * layer], ...]}. Reading it back is bounded like any untrusted input. */
#include "common/dd.h"
#include "inventory/inventory.h"
#include "common/arena.h"
#include <jansson.h>

#define SERIAL_MAX_PACKAGES 1000000

static json_t *s(const char *v) { return v ? json_string(v) : json_null(); }

char *inventory_to_json(const struct inventory *inv)
{
	json_t *o = json_object(), *p = json_array();
	json_object_set_new(o, "os", json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "kind", (int)inv->os.kind, "id",
					       s(inv->os.id), "version_id", s(inv->os.version_id), "codename",
					       s(inv->os.codename), "pretty_name", s(inv->os.pretty_name), "id_like",
					       s(inv->os.id_like)));
	for (size_t i = 0; i < inv->n; i++) {
		const struct package *k = &inv->pkgs[i];
		json_array_append_new(p, json_pack("[i, o, o, o, o, o, o, I, o, o]", (int)k->type, s(k->name), s(k->version),
						   s(k->arch), s(k->source_name), s(k->source_version), s(k->release),
						   (json_int_t)(k->has_epoch ? k->epoch : -1), s(k->modularity_label),
						   s(k->layer)));
	}
	json_object_set_new(o, "p", p);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static const char *str(struct arena *a, json_t *v)
{
	const char *t = json_string_value(v);
	return t ? arena_strdup(a, t) : NULL;
}

int inventory_from_json(struct inventory *inv, const char *text, size_t len, const char **why)
{
	*why = NULL;
	json_error_t err;
	json_t *o = json_loadb(text, len, 0, &err), *os = json_object_get(o, "os"), *p = json_object_get(o, "p");
	int rc = 0;
	if (!json_is_object(os) || !json_is_array(p) || json_array_size(p) > SERIAL_MAX_PACKAGES) {
		*why = "not a stored inventory";
		rc = DD_E_PKGDB_CORRUPT;
		goto out;
	}
	struct arena *a = inv->arena;
	inv->os.kind = (enum os_kind)json_integer_value(json_object_get(os, "kind"));
	inv->os.id = str(a, json_object_get(os, "id"));
	inv->os.version_id = str(a, json_object_get(os, "version_id"));
	inv->os.codename = str(a, json_object_get(os, "codename"));
	inv->os.pretty_name = str(a, json_object_get(os, "pretty_name"));
	inv->os.id_like = str(a, json_object_get(os, "id_like"));
	size_t i;
	json_t *row;
	json_array_foreach(p, i, row)
	{
		if (!json_is_array(row) || json_array_size(row) != 10 || !json_is_string(json_array_get(row, 1)))
			continue;
		struct package *k = inventory_add(inv);
		int type = (int)json_integer_value(json_array_get(row, 0));
		k->type = type == PKG_APK ? PKG_APK : type == PKG_RPM ? PKG_RPM : PKG_DPKG;
		k->name = str(a, json_array_get(row, 1));
		k->version = str(a, json_array_get(row, 2));
		k->arch = str(a, json_array_get(row, 3));
		k->source_name = str(a, json_array_get(row, 4));
		k->source_version = str(a, json_array_get(row, 5));
		k->release = str(a, json_array_get(row, 6));
		json_int_t e = json_integer_value(json_array_get(row, 7));
		k->has_epoch = e >= 0;
		k->epoch = e >= 0 ? (long)e : 0;
		k->modularity_label = str(a, json_array_get(row, 8));
		k->layer = str(a, json_array_get(row, 9));
	}
out:
	json_decref(o);
	return rc;
}
