/* A BulkRequest (RFC 7644 section 3.7) read into a list of operations, in one of two ways:
 * straight from the bytes (the common case, no jansson tree: a first import sends 100 of them
 * with 1,000 creates each) or, when that reader declines, through a jansson tree, which
 * handles everything else and gives the exact errors. Both fill the same list, so the
 * operations run the same way whichever reader read them. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

struct adc_bulk_op {
    bool is_object;                                /* the operation was a JSON object */
    const char *method, *bulk_id, *path, *version; /* NULL when absent or not a string */
    json_t *data;          /* the tree reader's "data" (borrowed), else NULL */
    const char *data_text; /* the text reader's "data" value, else NULL */
    size_t data_len;
};

struct adc_bulk_request {
    struct adc_bulk_op *ops;
    size_t n_ops;
    long long fail_on; /* failOnErrors, 0 when absent */
    json_t *body;      /* the tree reader's */
    char *strings;     /* the text reader's decoded strings */
};

/* The text reader: 0 with req filled, or -1 when it declines (anything but a well-formed
 * request within the limits; req is then empty). */
int adc_bulk_read_text(const char *body, size_t len, struct adc_bulk_request *req);

/* The tree reader: 0 with req filled, or -1 with the error answer in res. */
int adc_bulk_read_tree(struct adc_http_request *http, struct adc_http_response *res,
                       struct adc_bulk_request *req);

/* "data" of an operation as a tree: the tree reader's (borrowed: *owned = NULL) or the text
 * parsed now (*owned set; the caller decrefs it). NULL when there is no data. */
json_t *adc_bulk_op_data(const struct adc_bulk_op *op, json_t **owned);

void adc_bulk_request_done(struct adc_bulk_request *req);
