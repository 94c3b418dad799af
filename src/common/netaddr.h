/* netaddr.h: IP addresses and networks, for the reverse proxies a server trusts
 * (trusted-proxies) and the client their X-Forwarded-For names. An address is 16 bytes: IPv6,
 * with IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), so one network list holds both. */
#ifndef DD_NETADDR_H
#define DD_NETADDR_H
#include <stddef.h>

/* networks in one list (trusted-proxies) */
#define DD_MAX_TRUSTED_NETS 64

struct netaddr_net {
	unsigned char a[16];
	int bits; /* prefix length over the 16 bytes (an IPv4 /24 is 120) */
};

struct netaddr_list {
	struct netaddr_net net[DD_MAX_TRUSTED_NETS];
	int n;
};

/* One address, the n bytes at s: a.b.c.d, an IPv6 address, [IPv6], a.b.c.d:port or
 * [IPv6]:port (the port is dropped). 0, or -1 when it is none of those. */
int netaddr_parse(const char *s, size_t n, unsigned char out[16]);

/* A list of addresses and networks (ADDRESS or ADDRESS/BITS) separated by commas or spaces;
 * empty text is an empty list. 0, or -1 with why (the entry that is wrong, and why) written. */
int netaddr_list_parse(const char *text, struct netaddr_list *out, char *why, size_t whycap);

/* 1 when address a is in one of l's networks. An IPv4 address is in IPv4 networks alone (and
 * in ::ffff:a.b.c.d/96 or longer): ::/0 is every IPv6 client, not every client. */
int netaddr_list_has(const struct netaddr_list *l, const unsigned char a[16]);

/* Address a as text (a.b.c.d for IPv4). */
void netaddr_text(const unsigned char a[16], char *out, size_t cap);

/* The client of a request that came from peer, given its X-Forwarded-For fields (nfields of
 * them, in the order received: one list, each field's entries after the previous field's).
 * Walks from the peer leftwards while the hop in hand is trusted (in l): each trusted hop
 * vouches for the entry it appended. The result is the first hop not trusted, or the leftmost
 * entry when every hop is; an entry that is not an address ends the walk at the trusted hop
 * that passed it on. An untrusted peer is the client, whatever its header says. */
void netaddr_forwarded_client(const struct netaddr_list *l, const unsigned char peer[16], const char *const *fields,
			      int nfields, unsigned char out[16]);

#endif
