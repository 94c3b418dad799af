/* fuzz_netaddr.c: X-Forwarded-For entries and trusted-proxies lists. An address that parses
 * prints as text that parses back to it; a list's networks hold their own addresses; the client
 * a walk finds is the peer or an address that prints and parses back, and an untrusted peer is
 * its own client. Input: the list's text, a newline, then header fields one per line. */
#include "common/dd.h"
#include "common/netaddr.h"
#include "fuzz.h"

static void round_trip(const unsigned char a[16])
{
	char t[64];
	unsigned char b[16];
	netaddr_text(a, t, sizeof(t));
	if (netaddr_parse(t, strlen(t), b) || memcmp(a, b, 16))
		abort();
}

int fuzz_netaddr(const uint8_t *data, size_t size)
{
	unsigned char a[16];
	if (netaddr_parse((const char *)data, size, a) == 0)
		round_trip(a);
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	char *fields[64];
	int n = 0;
	char *nl = strchr(text, '\n');
	if (nl)
		*nl = 0;
	for (char *p = nl ? nl + 1 : NULL; p && n < 64; n++) {
		fields[n] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = 0;
	}
	struct netaddr_list l;
	char why[128];
	if (netaddr_list_parse(text, &l, why, sizeof(why)) == 0) {
		if (l.n > DD_MAX_TRUSTED_NETS)
			abort();
		for (int i = 0; i < l.n; i++)
			if (l.net[i].bits < 0 || l.net[i].bits > 128 || !netaddr_list_has(&l, l.net[i].a))
				abort();
		static const unsigned char peers[2][16] = {
			{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1},
			{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		};
		for (int k = 0; k < 2; k++) {
			unsigned char c[16];
			netaddr_forwarded_client(&l, peers[k], (const char *const *)fields, n, c);
			round_trip(c);
			if (!netaddr_list_has(&l, peers[k]) && memcmp(c, peers[k], 16))
				abort();
		}
	} else if (!why[0])
		abort(); /* a refused list says why */
	free(text);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_netaddr)
