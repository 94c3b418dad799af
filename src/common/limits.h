/* limits.h: every size drydock reads from untrusted input is bounded here, with the reason.
 * (SQLite's sqliteLimit.h.) Each limit, when exceeded, becomes a clear error naming it. */
#ifndef DD_LIMITS_H
#define DD_LIMITS_H

/* Manifests and indexes: Distribution and the OCI spec suggest 4 MiB; real ones are < 100 KiB. */
#define DD_MAX_MANIFEST_BYTES (4 * 1024 * 1024)
/* JSON nesting accepted in a manifest (jansson is recursive). */
#define DD_MAX_JSON_DEPTH 64
/* Descriptors in one manifest (layers) or index (manifests): far above any real image. */
#define DD_MAX_DESCRIPTORS 10000
/* Repository name: the spec's grammar plus Distribution's 255-byte cap for name + host. */
#define DD_MAX_NAME_BYTES 255
/* Tag: the spec's grammar allows 128 characters. */
#define DD_MAX_TAG_BYTES 128
/* Digest string: "sha512:" + 128 hex is the longest we accept. */
#define DD_MAX_DIGEST_BYTES 135
/* Request path: name + "/blobs/uploads/" + uuid, with slack; longer is a 404/400. */
#define DD_MAX_URL_BYTES 2048
/* One request head: request line and header fields (nginx allows 4 x 8 KiB by default, Go
 * 1 MiB; registry clients send under 4 KiB, a bearer token included). Beyond: 431. */
#define DD_MAX_HEADER_BYTES (64 * 1024)
/* Header fields in one request (real clients send about a dozen). Beyond: 431. */
#define DD_MAX_HEADER_FIELDS 100
/* One blob: layers of tens of GiB exist (ML images); refuse beyond 64 GiB. */
#define DD_MAX_BLOB_BYTES (64LL * 1024 * 1024 * 1024)
/* A part of an upload on S3, held in memory while it fills, and the one before it while it goes
 * up (two per upload being written):
 * S3 wants at least 5 MiB, at most 10,000 parts; 8 MiB parts hold DD_MAX_BLOB_BYTES. */
#define DD_S3_PART_BYTES (8 * 1024 * 1024)
/* What those buffers may hold in all at once (default of s3-upload-memory): beyond, a PATCH is
 * answered 503, so that clients stalling mid-part cannot take the server's memory. */
#define DD_S3_UPLOAD_MEMORY (1024LL * 1024 * 1024)
/* Blob reads from S3 streaming at once (a thread and a connection each, held while the
 * client reads); beyond, a GET is answered 503 and a scan fails for now. */
#define DD_MAX_S3_STREAMS 1024
/* ... of which one client (by address) holds at most this many; beyond, 429. */
#define DD_MAX_S3_STREAMS_PER_CLIENT 64
/* Clients' blob GETs waiting at once for S3's first answer (each holds a handler thread);
 * beyond, 503. */
#define DD_MAX_S3_HEAD_WAITS 64
/* ... and for the server's own reads (the scanner's layers, configs): a pool of their own. */
#define DD_MAX_S3_READERS 256
/* Seconds a blob read from S3 may make no progress (S3 sends nothing, or the reader takes
 * nothing) before it is ended. */
#define DD_S3_STALL_SECONDS 120
/* An S3 upload's bytes kept in memory for the scanner reading the layer as it uploads, beyond
 * what the scanner has read and given back; past this the scanner reads it from S3 once
 * committed instead. */
#define DD_MAX_S3_MIRROR_BYTES (64LL * 1024 * 1024)
/* How often (bytes written) a mirror's resident size is looked at and counted against
 * s3-upload-memory with the upload buffers. */
#define DD_S3_MIRROR_CHECK_BYTES (1024 * 1024)
/* How long a presigned URL that a blob GET redirects to stays valid (Distribution: 20 min). */
#define DD_BLOB_URL_SECONDS 1200
/* Open upload sessions at once (each is a temp file and a row). */
#define DD_MAX_UPLOAD_SESSIONS 4096
/* Open upload sessions of one account, or of one client address when no account is known
 * (auth off) (default of max-upload-sessions-per-account; 0: no cap). A client uploads a few
 * layers of an image at once, so this is dozens of pushes in flight from one CI account, while
 * no single account can hold more than a sixteenth of DD_MAX_UPLOAD_SESSIONS. At the cap the
 * account's own least recently used session that no request is using is cancelled to admit
 * the new one: what an account leaves open costs it alone, never another account. */
#define DD_MAX_UPLOAD_SESSIONS_PER_ACCOUNT 256
/* Open HTTP connections (default of max-connections; the open-file limit may lower it). An
 * idle connection costs a few hundred bytes and its socket; at the limit the connection idle
 * longest is closed to admit a new one, and only if none is idle is the new one refused. */
#define DD_MAX_CONNECTIONS 16384
/* Connections from one client address (default of max-connections-per-client; 0: no cap):
 * one host cannot take every slot. Clients behind one NAT or proxy share it: raise it there. */
#define DD_MAX_CONNECTIONS_PER_CLIENT 2048
/* Seconds a connection may wait between requests (keep-alive), and wait for progress of a
 * request body or a response (a client that stopped reading or sending). */
#define DD_CONNECTION_TIMEOUT 120
/* Seconds from the first byte of a request head (or a TLS handshake) to its end: a client
 * sending a head a byte at a time (slowloris) is cut off here. */
#define DD_HEADER_TIMEOUT 30
/* Request body bytes read ahead of the handler, per request: the unit of work handed to a
 * handler thread, and the memory a slow handler can make a connection hold. */
#define DD_MAX_BODY_CHUNK (1024 * 1024)
/* Request body bytes buffered in the whole server: beyond it connections read in small steps
 * (16 KiB), so thousands of uploads at once cannot take the memory. */
#define DD_MAX_BUFFERED_BYTES (256 * 1024 * 1024)
/* Threads that run handlers (disk and database work): they start on demand and end when
 * idle. Requests beyond them wait in a queue; connections waiting on the network hold none. */
#define DD_MAX_HANDLER_THREADS 256
/* Concurrent HTTP/2 streams on one connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
#define DD_MAX_H2_STREAMS 128
/* Free space kept on the data directory's filesystem (default of min-free-space): below it
 * pushes are refused with 507 (new upload sessions, blob bytes, manifests) and the registry
 * only serves reads, deletes and garbage collection. It covers what is still written once
 * pushes stop: request bodies in flight (each checks the free space again before every piece
 * of at most DD_MAX_BODY_CHUNK it writes), assessments and the layer cache, SQLite's WAL, and
 * other users of the filesystem, with room to spare. */
#define DD_MIN_FREE_BYTES (512LL * 1024 * 1024)
/* Size of the reserve file DATA/reserve (default of reserve-space; 0: none): disk space held
 * back so that a delete or a garbage collection can still commit in SQLite (which needs room
 * for its WAL even to delete) when the filesystem is full. A delete commits in a few KiB and a
 * collection one blob per transaction, so this lasts through many releases. */
#define DD_RESERVE_BYTES (32LL * 1024 * 1024)
/* What one release of the reserve gives back: a metadata change that failed for lack of space
 * releases this much and runs again (and again, a step at a time), so a filesystem that keeps
 * filling from elsewhere does not swallow the whole reserve on the first delete. */
#define DD_RESERVE_STEP_BYTES (4LL * 1024 * 1024)
/* Free bytes under which the filesystem counts as full (healthz "full"): less than one step of
 * the reserve, too little for SQLite to commit much. */
#define DD_SPACE_FULL_BYTES (4LL * 1024 * 1024)
/* Free inodes under which the filesystem counts as full (on filesystems that count them): each
 * blob and staging file takes one. */
#define DD_MIN_FREE_INODES 1024
/* Seconds between the server's checks of the free space (the reserve is topped up when there
 * is room again) and between trims of the layer cache. */
#define DD_SPACE_CHECK_SECONDS 10
#define DD_LAYER_CACHE_TRIM_SECONDS 600
/* How far the layer cache (DATA/cache/layers) may outweigh the blobs it describes before its
 * entries are evicted. Real layers keep a small part of their size (the Debian test images
 * 0.2-0.3%: debian-big 0.5 MB for 229 MB of layers), but one whose package database compresses
 * well keeps more than its blob (the rpm test image 467 KB for a 31 KB layer), so a small
 * registry may keep more than it stores, and evicting there would only read layers again. */
#define DD_LAYER_CACHE_SLACK_BYTES (64LL * 1024 * 1024)
/* Page size for tags and catalog when the client asks for more (a Link header says so). */
#define DD_MAX_PAGE 10000
/* Referrers returned in one response (a Link header would page them; see docs/api.md). */
#define DD_MAX_REFERRERS 10000
/* One package database or os-release file read into memory (dpkg status of a large image is a
 * few MiB; rpmdb.sqlite of a full distribution ~100 MiB). */
#define DD_MAX_PKGDB_FILE_BYTES (256 * 1024 * 1024)
/* One layer, uncompressed: the largest real layers are tens of GiB (ML images); beyond this a
 * layer is treated as a decompression bomb. */
#define DD_MAX_LAYER_BYTES (64LL * 1024 * 1024 * 1024)
/* Tar entries in one layer (a full distribution has ~100k files). */
#define DD_MAX_LAYER_ENTRIES 5000000
/* A path inside a layer (PATH_MAX). */
#define DD_MAX_PATH_BYTES 4096
/* Symlinks followed while resolving one path inside an image (Linux's MAXSYMLINKS). */
#define DD_MAX_SYMLINK_HOPS 40
/* Layers in one image (Docker refuses more than 125; 1000 is far above any real image). */
#define DD_MAX_LAYERS 1000
/* Compression ratio of a layer (uncompressed bytes over the compressed bytes consumed so far),
 * checked once DD_LAYER_RATIO_AFTER_BYTES have come out. Real layers compress 2-10:1 (the test
 * images' Debian layers 2.4-2.8:1, an encrypted one 1:1); only long runs of one byte come near
 * 1000:1 (a GiB of zeros is 1030:1 with gzip, deflate's ceiling; 32,000:1 with zstd -3). So a
 * stream past 1000:1 is a bomb (2 MB of zstd held a scan worker 17 s on its way to the 64 GiB
 * limit), and under it a layer costs at most 1000 times the bytes pushed. */
#define DD_MAX_LAYER_RATIO 1000
/* Output before the ratio is checked: small layers that are mostly zeros (a sparse file, an
 * empty disk image) pass, and a bomb is refused after 64 MiB, a few hundredths of a second of
 * decompression. */
#define DD_LAYER_RATIO_AFTER_BYTES (64 * 1024 * 1024)
/* Bytes one layer keeps for the inventory: its package databases and os files, its links and
 * whiteouts, paths included (the layer cache stores the same). Real layers keep well under
 * 10 MiB (debian-wide's largest 0.4 MiB: its dpkg status and a few thousand links); this is
 * room for one database at DD_MAX_PKGDB_FILE_BYTES and 128 MiB besides. */
#define DD_MAX_LAYER_KEPT_BYTES (384LL * 1024 * 1024)
/* The same over every layer of an image, all held by its scan at once: each layer that installs
 * packages keeps its own copy of the database (twenty layers over a 40 MiB rpmdb keep 800 MiB). */
#define DD_MAX_IMAGE_KEPT_BYTES (1024LL * 1024 * 1024)
/* Bytes one layer keeps of files outside the package managers' paths that are named like a
 * package database or an os file ('status', 'installed', 'os-release', ... anywhere): they are
 * kept only in case a link (in a later layer, or earlier in the tar) points a package manager's
 * path at them, as a relocated /var/lib/dpkg would. Beyond this they are noted but not kept, and
 * an inventory that reaches one through a link fails naming this limit. */
#define DD_MAX_LAYER_SPARE_BYTES (32 * 1024 * 1024)
/* Application packages (src/inventory/lang.c). One language metadata file kept whole: a Python
 * METADATA or PKG-INFO (only its header section is kept; long descriptions make some a few
 * hundred KiB) or an npm package.json (a few KiB; the largest real ones some hundreds). Larger
 * ones are not application metadata that any tool writes, and fail the layer naming the file. */
#define DD_MAX_LANG_FILE_BYTES (4 * 1024 * 1024)
/* Of a Python METADATA or PKG-INFO, the first bytes are kept: the headers, Name and Version
 * first among them (a long description follows, or, in old metadata, a Description header). */
#define DD_MAX_PY_HEADER_BYTES (64 * 1024)
/* One lock file (package-lock.json, Cargo.lock): a large monorepo's lock is a few MiB. */
#define DD_MAX_LOCKFILE_BYTES (32 * 1024 * 1024)
/* Bytes kept of an executable from its Go build information's magic on: the header, the Go
 * version and the module list (a large binary's is tens of KiB). A longer list is cut here and
 * its last, partial line ignored. */
#define DD_MAX_GO_BUILDINFO_BYTES (1024 * 1024)
/* A Go binary's function name table (lang_gofuncs.c): its functions (a large binary has some
 * 50,000), the table's bytes (a few MiB), and the distinct packages named (podman: 675) and
 * their bytes (podman: 22 KiB), which the image's stored inventory keeps; past any of them the
 * binary says nothing of which packages it holds. */
#define DD_MAX_GO_FUNCS (4 * 1024 * 1024)
#define DD_MAX_GO_FUNCNAME_BYTES (256 * 1024 * 1024)
#define DD_MAX_GO_PACKAGES 20000
#define DD_MAX_GO_PACKAGE_BYTES (1024 * 1024)
/* Java archives (jar, war, ear) are read as they stream past, never kept: archives nested in
 * them are read to this depth (a war's jars, a Spring Boot jar's), entries counted up to
 * DD_MAX_JAR_ENTRIES over an archive and all it holds, of which DD_MAX_JAR_META_READS
 * pom.properties and manifests are read, up to DD_MAX_JAR_META_BYTES each; every byte inflated
 * counts against the archive's own size as a layer's do (DD_MAX_LAYER_RATIO). */
#define DD_MAX_JAR_DEPTH 3
#define DD_MAX_JAR_ENTRIES 200000
#define DD_MAX_JAR_META_BYTES (64 * 1024)
#define DD_MAX_JAR_META_READS 1024
/* An executable's tail, what no segment loads (where cargo auditable's .dep-v0 section and the
 * section headers lie), is kept while it streams past when it is at most this long (a stripped
 * Rust binary's is a few KiB; one with its symbols or debug information is passed by), and its
 * dependency list inflated to at most DD_MAX_CARGO_AUDIT_BYTES. */
#define DD_MAX_ELF_TAIL_BYTES (4 * 1024 * 1024)
#define DD_MAX_CARGO_AUDIT_BYTES (4 * 1024 * 1024)
/* Application packages in one image (a large node_modules tree holds a few thousand). */
#define DD_MAX_LANG_PACKAGES 200000
/* Nesting of package-lock.json v1 "dependencies" objects read. */
#define DD_MAX_LOCK_DEPTH 64
/* An image config read for its platform (the query tables): larger ones go without one. Configs
 * are a few KiB; long build histories reach some hundreds. */
#define DD_MAX_IMAGE_CONFIG_BYTES (4 * 1024 * 1024)
/* Config file size and line length. */
#define DD_MAX_CONFIG_BYTES (64 * 1024)
/* An Authorization header's credentials: a bearer token (ours are ~600 bytes; JWTs from
 * other issuers with many scopes stay well under this), or Basic user:password decoded. */
#define DD_MAX_TOKEN_BYTES (8 * 1024)
#define DD_MAX_BASIC_BYTES 1024
/* Account names (user, robot) and passwords. */
#define DD_MAX_ACCOUNT_NAME 64
#define DD_MAX_PASSWORD_BYTES 256
/* Scopes asked for in one token request, and the body of a token POST (an OAuth2 form). */
#define DD_MAX_SCOPES 32
#define DD_MAX_TOKEN_FORM_BYTES (16 * 1024)
/* Role grants held by one account, and accounts kept (the store is a settings table). */
#define DD_MAX_GRANTS 256
#define DD_MAX_ACCOUNTS 10000
/* One htpasswd line. */
#define DD_MAX_HTPASSWD_LINE 1024
/* Audit entries returned in one page. */
#define DD_MAX_AUDIT_PAGE 1000
/* Webhook targets kept, a target's URL and its secret (a namespace owner may add targets). */
#define DD_MAX_WEBHOOKS 100
#define DD_MAX_WEBHOOK_URL 1024
#define DD_MAX_WEBHOOK_SECRET 256
/* A VEX document, the statements read from it (products times subcomponents), and the
 * documents kept (uploaded, or attached to images as referrers). */
#define DD_MAX_VEX_BYTES (1024 * 1024)
#define DD_MAX_VEX_STATEMENTS 10000
#define DD_MAX_VEX_DOCUMENTS 1000
#define DD_MAX_VEX_PER_NAMESPACE 20  /* uploaded for one namespace's repositories (or for every one) */
#define DD_MAX_VEX_PER_REPOSITORY 20 /* attached in one repository */

/* A stored report or inventory, unpacked (meta_sqlite keeps them zstd-compressed): debian-big's
 * report is 0.5 MB, so this is far above any image's, and a damaged row cannot make a reader
 * allocate without bound. */
#define DD_MAX_STORED_TEXT_BYTES (256 * 1024 * 1024)

/* Reports and inventories a scan worker holds before it stores them (one write transaction):
 * a batch of re-assessments is stored at SCANNER_BATCH images or at this many bytes, whichever
 * comes first, so images with large reports (debian-big's is 0.5 MB) do not make a worker hold
 * a batch's worth of them. */
#define DD_MAX_SCAN_BATCH_BYTES (16 * 1024 * 1024)

/* The sandboxed scan workers (src/scan/sandbox.c): every layer is read, and every package
 * database parsed, in a process of its own that may only read the descriptors it is given. An
 * operator (or a test) may lower, never raise, the first three with DRYDOCK_MAX_SANDBOX_MEMORY,
 * DRYDOCK_MAX_SANDBOX_CPU_SECONDS and DRYDOCK_MAX_SANDBOX_STALL_SECONDS. */
/* Address space of a layer reader (RLIMIT_AS): what one layer may keep
 * (DD_MAX_LAYER_KEPT_BYTES, 384 MiB), the growth of its entry table, the decompressors' and
 * libarchive's buffers, and the program with its libraries (about 60 MiB mapped). Past it an
 * allocation fails and the scan fails saying so; the bounds above keep real layers far below. */
#define DD_SANDBOX_LAYER_MEMORY (1024LL * 1024 * 1024)
/* Address space of a package database reader: every layer's kept bytes (DD_MAX_IMAGE_KEPT_BYTES,
 * 1 GiB), one cache entry mapped while it is copied (384 MiB), the merged view, a copy of an
 * rpm SQLite database (256 MiB) and the packages parsed from it. */
#define DD_SANDBOX_INVENTORY_MEMORY (3LL * 1024 * 1024 * 1024)
/* CPU seconds of one worker (RLIMIT_CPU): a layer at DD_MAX_LAYER_BYTES (64 GiB) inflates in
 * about 2 minutes with ISA-L on these machines; parsing the databases of any real image takes
 * well under a second. Past it the worker is killed (SIGXCPU) and the scan fails saying so. */
#define DD_SANDBOX_CPU_SECONDS 600
/* Seconds a worker may go without taking input or reporting progress (it reports after every
 * MiB of a layer read and every layer merged) before it is killed: a hang in a parser. The
 * slowest honest step, parsing one 256 MiB rpm database, takes a few seconds. */
#define DD_SANDBOX_STALL_SECONDS 60
/* Descriptors a worker may hold (RLIMIT_NOFILE): one per distinct layer of an image
 * (DD_MAX_LAYERS), its socket to the server and the three standard ones (/dev/null). */
#define DD_SANDBOX_FILES (DD_MAX_LAYERS + 8)
/* Workers started ahead of need, per kind (layer reader, package database reader): a worker
 * forked by the zygote costs a few milliseconds of CPU to start and end (one started as a
 * program, without a zygote, about 35: its libraries loaded and relocated, its warm-up), spent
 * before a push rather than after it. Each runs one task and exits. */
#define DD_SANDBOX_SPARES 1

/* Kusto queries (src/query/): the text and the work of one query, so that no query can take
 * the memory or the CPU of the server from the registry it runs in. */
/* Query text: Resource Graph caps a query at 256 KiB; real ones are under a few KiB. */
#define DD_MAX_QUERY_TEXT_BYTES (256 * 1024)
/* Nesting of expressions and subqueries: the parser and the evaluator recurse once per level. */
#define DD_MAX_QUERY_DEPTH 64
/* Rows any one operator may produce (a join or an mv-expand multiplies rows): the drydock
 * tables hold at most a few million findings. */
#define DD_MAX_QUERY_ROWS (16 * 1024 * 1024)
/* Memory one query may allocate for rows, strings and values (its arena and dynamic values). */
#define DD_MAX_QUERY_BYTES (1024LL * 1024 * 1024)
/* Wall-clock budget of one query, checked while operators run. */
#define DD_MAX_QUERY_MILLIS 30000
/* Backtracking steps of one regex match (PCRE2's match limit; its default is 10 million): a
 * pattern that backtracks catastrophically fails the query instead of spinning per row. */
#define DD_MAX_QUERY_REGEX_STEPS 1000000
/* Reads of a table pushed by a scan (each reads the store) in one query. */
#define DD_MAX_QUERY_SCANS 16
/* Bytes of one string a query builds (strcat, replace_string, tostring of a dynamic value). */
#define DD_MAX_QUERY_STRING_BYTES (16 * 1024 * 1024)
/* Queries the server runs at once (POST /api/v1/query, Resource Graph's endpoint): one more is
 * answered 429. Each runs within the limits above, its memory within the next. */
#define DD_MAX_QUERIES_RUNNING 2
#define DD_MAX_QUERY_SERVER_BYTES (256LL * 1024 * 1024)
/* Rows of a query's result in one answer: /api/v1/query's default and most, Resource Graph's
 * (its own: 100 by default, 1000 at most). */
#define DD_QUERY_PAGE 1000
#define DD_MAX_QUERY_PAGE 10000
#define DD_RG_PAGE 100
#define DD_MAX_RG_PAGE 1000

#endif
