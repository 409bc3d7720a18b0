/* Files the operator offers for download (`adc-server serve --downloads DIR`, docs/product.md
 * section 13): the ad-connect archive that the console's synchronization page links to, with
 * its SHA-256. Only regular files directly in DIR are served, by name, at /downloads/NAME; there
 * is no listing at that path (the console reads GET /api/v1/downloads, admins only). */
#pragma once

#include <stdbool.h>

#include <microhttpd.h>

struct adc_server;

/* Checks that dir is a directory this process can read; returns 0 or a negative errno with a
 * message logged. The path is kept by the caller (srv->downloads_dir). */
int adc_downloads_check_dir(const char *dir);

/* True when the URL is under "/downloads/" (or is "/downloads"). */
bool adc_downloads_owns(const char *url);

/* Answers a request for a /downloads/ URL: 200 with the file (Content-Type by its extension,
 * Content-Length, streamed from the file), 404 for anything that is not a regular file with a
 * plain name directly in the directory (or when no directory is configured), 405 for methods
 * other than GET and HEAD. */
enum MHD_Result adc_downloads_handle(struct adc_server *srv, struct MHD_Connection *conn,
                                     const char *method, const char *url);

/* True when name may be served: 1 to 128 characters of [A-Za-z0-9._+-], not starting with a
 * dot (no "..", no hidden files, no path separator). For tests. */
bool adc_downloads_name_ok(const char *name);

/* MHD's %-decoding (MHD_OPTION_UNESCAPE_CALLBACK) except that "%00" stays as it is: decoded, a NUL
 * would cut the path short ("/downloads/a.tar.gz%00.txt" would name a.tar.gz), here it keeps a
 * '%' that no name or route accepts. Returns the new length of s. */
size_t adc_http_unescape_keep_nul(void *cls, struct MHD_Connection *conn, char *s);
