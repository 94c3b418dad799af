#!/usr/bin/env bash
# check-includes.sh: the arrows between the folders of src/, checked. Reads every
# `#include "..."` of every .c and .h file under src/, resolves it as the compiler does (the
# including file's folder first, then src/), and fails, naming file, line and arrow, when an
# include goes from one folder to another along an arrow the table below does not allow.
# docs/architecture.md draws the same table.
#
#   scripts/check-includes.sh [ROOT]    ROOT holds src/ (default: this checkout)
#
# Exit 0 when every include follows an allowed arrow or a listed exception, 1 when one does
# not (or the tables contradict each other or miss a folder of src/), 2 on a usage error. An
# exception that no longer matches any include is reported so it can be deleted, without
# failing the check.
set -eu

# The arrows allowed: FOLDER: the other folders whose headers its files may include. A folder
# always includes its own. Every folder of src/ has a line; a new arrow is a change to this
# table and to the picture in docs/architecture.md, made on purpose.
ALLOWED='
common:
version:   common
store:     common
http:      common
events:    common
query:     common
inventory: common version
vulndb:    common version
auth:      common http store
web:       common auth http store
image:     common auth inventory store
registry:  common auth events http image store web
scan:      common events image inventory store version vulndb
assess:    common auth events http query scan store vulndb web
cmd:       *
'

# Arrows that must never be allowed, whatever the table above says (the check fails if it
# does): FROM -> TO (* for every other folder), then why.
FORBIDDEN='
registry  -> scan      the registry stores and serves; the scanner listens to its events (events/events.h)
store     -> registry  a storage backend knows nothing of the API built on it
inventory -> http      inventory parsers take bytes, never requests
version   -> store     version ordering is pure computation
common    -> *         common/ is the bottom layer: it includes nothing of the other folders
'

# Known exceptions, one include each: FILE INCLUDE, then why and until when. Each is a debt:
# delete its line when the include goes.
EXCEPTIONS='
src/auth/header.c        registry/names.h    cycle auth <-> registry, not scheduled: a token scope is checked with name_validate, a pure grammar
src/vulndb/build.c       scan/match.h        cycle vulndb <-> scan, not scheduled: the builder uses osv_ecosystem_scheme and osv_match, OSV semantics
'

root=${1:-$(dirname "$0")/..}
[ $# -le 1 ] || { echo "usage: $0 [ROOT]" >&2; exit 2; }
cd "$root" || exit 2
[ -d src ] || { echo "check-includes: no src/ in '$root'" >&2; exit 2; }

files=$(find src -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
[ -n "$files" ] || { echo "check-includes: no source files under '$root/src'" >&2; exit 2; }
export ALLOWED FORBIDDEN EXCEPTIONS FILES="$files"

# $files unquoted: one argument per file (paths under src/ hold no blanks)
LC_ALL=C awk '
function folder(path,   c) { split(path, c, "/"); return c[2] }
function dirname(path) { sub(/\/[^\/]*$/, "", path); return path }
function norm(path,   c, n, i, k, st, out) {  # a/./b/../c -> a/c
	n = split(path, c, "/"); k = 0
	for (i = 1; i <= n; i++) {
		if (c[i] == "" || c[i] == ".") continue
		if (c[i] == "..") { if (k > 0) k--; continue }
		st[++k] = c[i]
	}
	out = st[1]
	for (i = 2; i <= k; i++) out = out "/" st[i]
	return out
}
function lines(text, out,   n) { n = split(text, out, "\n"); return n }
function fail(msg) { print msg; errors++ }
BEGIN {
	nf = lines(ENVIRON["FILES"], f)
	for (i = 1; i <= nf; i++) if (f[i] != "") { exists[f[i]] = 1; folders[folder(f[i])] = 1 }

	n = lines(ENVIRON["ALLOWED"], l)
	for (i = 1; i <= n; i++) {
		if (split(l[i], w, /[ \t]+/) == 0) continue
		from = w[1]; sub(/:$/, "", from); intable[from] = 1
		for (j = 2; j in w; j++) if (w[j] != "") allow[from, w[j]] = 1
	}
	n = lines(ENVIRON["FORBIDDEN"], l)
	for (i = 1; i <= n; i++) {
		if (split(l[i], w, /[ \t]+/) < 3) continue
		why = l[i]; sub(/^[ \t]*[^ \t]+[ \t]+->[ \t]+[^ \t]+[ \t]+/, "", why)
		forbid[w[1], w[3]] = why
	}
	n = lines(ENVIRON["EXCEPTIONS"], l)
	for (i = 1; i <= n; i++) {
		if (split(l[i], w, /[ \t]+/) < 3) continue
		why = l[i]; sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]+/, "", why)
		exc[w[1], w[2]] = why; excfile[w[1], w[2]] = w[1]; excinc[w[1], w[2]] = w[2]; order[++nexc] = w[1] SUBSEP w[2]
	}

	# the tables themselves: every folder placed, no forbidden arrow allowed
	for (d in folders) if (!(d in intable)) fail("scripts/check-includes.sh: folder src/" d "/ has no line in the table of allowed arrows")
	for (k in allow) {
		split(k, p, SUBSEP)
		if (p[2] == "*") { for (d in folders) if (d != p[1] && (((p[1], d) in forbid) || ((p[1], "*") in forbid))) bad = d }
		else if (((p[1], p[2]) in forbid) || ((p[1], "*") in forbid)) bad = p[2]
		else bad = ""
		if (bad != "") fail("scripts/check-includes.sh: the table allows " p[1] " -> " bad ", a forbidden arrow")
	}
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
	inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
	from = folder(FILENAME)
	target = norm(dirname(FILENAME) "/" inc)
	if (!(target in exists)) target = norm("src/" inc)
	if (!(target in exists)) next  # not a header of src/ (a system header written with quotes)
	to = folder(target)
	if (to == from) next
	checked++
	if ((FILENAME, inc) in exc) { used[FILENAME, inc] = 1; excepted++; next }
	if ((from, to) in allow || (from, "*") in allow) next
	where = FILENAME ":" FNR ": #include \"" inc "\": " from " -> " to
	if ((from, to) in forbid) fail(where " is forbidden (" forbid[from, to] ")")
	else if ((from, "*") in forbid) fail(where " is forbidden (" forbid[from, "*"] ")")
	else fail(where " is not an allowed arrow (scripts/check-includes.sh, docs/architecture.md)")
}
END {
	for (i = 1; i <= nexc; i++) {
		k = order[i]
		if (k in used) print "check-includes: known exception: " excfile[k] " includes " excinc[k] ": " exc[k]
		else print "check-includes: exception no longer needed, delete its line: " excfile[k] " includes " excinc[k] > "/dev/stderr"
	}
	printf "check-includes: %d includes between folders of src/, %d of them known exceptions; %d errors\n",
	       checked, excepted, errors
	exit errors ? 1 : 0
}
' $files
