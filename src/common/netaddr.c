/* netaddr.c: IP addresses and networks as text; the client an X-Forwarded-For names. */
#include "dd.h"
#include "netaddr.h"
#include <arpa/inet.h>

static void v4_mapped(const unsigned char v4[4], unsigned char out[16])
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

static int is_v4_mapped(const unsigned char a[16])
{
	static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return !memcmp(a, prefix, 12);
}

/* ":port" (1 to 5 digits) at s[0..n): 1 when it is one */
static int is_port(const char *s, size_t n)
{
	if (n < 2 || n > 6 || s[0] != ':')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* a.b.c.d or an IPv6 address, no brackets or port (the networks of a list): 4 or 6, or 0 when
 * it is neither */
static int plain_parse(const char *s, size_t n, unsigned char out[16])
{
	char t[INET6_ADDRSTRLEN + 1];
	unsigned char v4[4];
	if (n == 0 || n >= sizeof(t))
		return 0;
	memcpy(t, s, n);
	t[n] = 0;
	if (inet_pton(AF_INET, t, v4) == 1) {
		v4_mapped(v4, out);
		return 4;
	}
	return inet_pton(AF_INET6, t, out) == 1 ? 6 : 0;
}

int netaddr_parse(const char *s, size_t n, unsigned char out[16])
{
	if (n && s[0] == '[') { /* [IPv6] or [IPv6]:port */
		const char *close = memchr(s, ']', n);
		if (!close)
			return -1;
		size_t rest = n - (size_t)(close + 1 - s);
		if (rest && !is_port(close + 1, rest))
			return -1;
		return plain_parse(s + 1, (size_t)(close - s - 1), out) == 6 ? 0 : -1;
	}
	const char *colon = memchr(s, ':', n);
	if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) == NULL && is_port(colon, n - (size_t)(colon - s)))
		n = (size_t)(colon - s); /* a.b.c.d:port */
	return plain_parse(s, n, out) ? 0 : -1;
}

static void mask(unsigned char a[16], int bits)
{
	for (int i = 0; i < 16; i++) {
		int keep = bits - 8 * i;
		a[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
}

int netaddr_list_parse(const char *text, struct netaddr_list *out, char *why, size_t whycap)
{
	memset(out, 0, sizeof(*out));
	for (const char *p = text;;) {
		p += strspn(p, ", \t");
		if (!*p)
			return 0;
		size_t n = strcspn(p, ", \t");
		const char *slash = memchr(p, '/', n);
		size_t an = slash ? (size_t)(slash - p) : n;
		struct netaddr_net net;
		const char *bad = NULL;
		int family = plain_parse(p, an, net.a), v4 = family == 4;
		if (!family)
			bad = "is not an IP address";
		net.bits = 128;
		if (!bad && slash) {
			size_t bn = n - an - 1;
			int bits = 0;
			int ok = bn >= 1 && bn <= 3;
			for (size_t i = 0; ok && i < bn; i++) {
				ok = isdigit((unsigned char)slash[1 + i]);
				bits = bits * 10 + (slash[1 + i] - '0');
			}
			if (!ok || bits > (v4 ? 32 : 128))
				bad = v4 ? "has a prefix length that is not 0 to 32" : "has a prefix length that is not 0 to 128";
			else
				net.bits = v4 ? 96 + bits : bits;
		}
		if (!bad && out->n == DD_MAX_TRUSTED_NETS)
			bad = "is past the 64 entries a list may hold";
		if (bad) {
			snprintf(why, whycap, "'%.*s' %s", (int)(n > 64 ? 64 : n), p, bad);
			return -1;
		}
		mask(net.a, net.bits);
		out->net[out->n++] = net;
		p += n;
	}
}

int netaddr_list_has(const struct netaddr_list *l, const unsigned char a[16])
{
	int v4 = is_v4_mapped(a);
	for (int i = 0; l && i < l->n; i++) {
		if (v4 && l->net[i].bits < 96)
			continue; /* an IPv6 network (::/0, ::ffff:10.0.0.0/8) holds no IPv4 client, as in nginx */
		unsigned char m[16];
		memcpy(m, a, 16);
		mask(m, l->net[i].bits);
		if (!memcmp(m, l->net[i].a, 16))
			return 1;
	}
	return 0;
}

void netaddr_text(const unsigned char a[16], char *out, size_t cap)
{
	char t[INET6_ADDRSTRLEN];
	if (is_v4_mapped(a))
		inet_ntop(AF_INET, a + 12, t, sizeof(t));
	else
		inet_ntop(AF_INET6, a, t, sizeof(t));
	snprintf(out, cap, "%s", t);
}

void netaddr_forwarded_client(const struct netaddr_list *l, const unsigned char peer[16], const char *const *fields,
			      int nfields, unsigned char out[16])
{
	memcpy(out, peer, 16);
	if (!netaddr_list_has(l, out))
		return; /* an untrusted peer is the client */
	for (int f = nfields - 1; f >= 0; f--) {
		const char *v = fields[f];
		size_t end = strlen(v);
		while (1) {
			/* the entry before `end`: from the comma before it (or the start) */
			size_t start = end;
			while (start > 0 && v[start - 1] != ',')
				start--;
			size_t a = start, b = end;
			while (a < b && (v[a] == ' ' || v[a] == '\t'))
				a++;
			while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
				b--;
			unsigned char next[16];
			if (a == b) { /* an empty entry ("a,,b", or an empty field): skipped */
				if (start == 0)
					break;
				end = start - 1;
				continue;
			}
			if (netaddr_parse(v + a, b - a, next))
				return; /* not an address: the trusted hop that passed it on */
			memcpy(out, next, 16);
			if (!netaddr_list_has(l, out))
				return; /* a hop not trusted: the client (empty entries cost no check) */
			if (start == 0)
				break;
			end = start - 1;
		}
	}
}
