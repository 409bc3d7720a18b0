/* The console's static files, embedded at build time by web-embed.py (see there for why). */
#pragma once

#include <stddef.h>

struct adc_console_asset {
    const char *path; /* "/console/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t size;
    const char *etag; /* strong validator, quoted: "\"3fa9...\"" */
};

extern const struct adc_console_asset adc_console_assets[];
extern const size_t adc_console_assets_count;
