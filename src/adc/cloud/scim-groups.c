#include "cloud/scim-groups.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json-scan.h"
#include "common/json-util.h"
#include "common/macros.h"
#include "common/wire.h"
#include "cloud/scim-internal.h"
#include "cloud/scim-list-parse.h"
#include "cloud/transport.h"
#include "sync/str-index.h"

#define PAGE 200

/* Percent-encodes a query value (RFC 3986: all but the unreserved characters). */
static char *query_escape(const char *s) {
    struct adc_buf b;
    adc_buf_init(&b, 0);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~", *c))
            adc_buf_append(&b, c, 1);
        else
            adc_buf_printf(&b, "%%%02X", *c);
    }
    return adc_buf_take(&b, NULL);
}

/* `PROVIDER_URN:provider eq "app_id"`, percent-encoded for a query. */
static char *provider_filter(const char *urn, const char *app_id) {
    struct adc_buf b;
    adc_buf_init(&b, 0);
    adc_buf_printf(&b, "%s:provider eq ", urn);
    adc_json_append_string(&b, app_id); /* a quoted string with JSON's escapes, as SCIM's */
    char *f = adc_buf_take(&b, NULL);
    char *q = f ? query_escape(f) : NULL;
    free(f);
    return q;
}

static char *dup_str(const json_t *v) {
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* ---- a page of groups, read without building a tree ------------------------------------------
 * A page holding a group of 100,000 members is about 18 MB of JSON: as a jansson tree it took
 * most of adc's memory in a sync with groups (docs/BENCHMARKS.md). This walks the text
 * (common/json-scan.h) and keeps only each group's id, externalId, displayName and member keys. */

#define GROUP_PAGE_DEPTH 32

struct group_page {
    adc_member_key_fn key_of;
    void *ctx;
    struct adc_cloud_group_list *l;
    size_t *cap;
    long long total;
    bool has_total;
    size_t n_items;
    size_t keys_cap;    /* of the group being read */
    char *value, *type; /* of the member being read */
};

static int dup_string(struct adc_json_scan *s, char **out) {
    if (adc_json_scan_literal(s, "null"))
        return 0;
    if (!adc_json_scan_next_is(s, '"'))
        return adc_json_scan_fail(s, "a string was expected");
    free(*out);
    *out = NULL;
    return adc_json_scan_string_dup(s, out);
}

static int gmember_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct group_page *pg = ctx;
    if (strcmp(key, "value") == 0)
        return dup_string(s, &pg->value);
    if (strcmp(key, "type") == 0)
        return dup_string(s, &pg->type);
    return adc_json_scan_skip(s);
}

/* A member of g by its key (key_of's). */
static int add_member(struct adc_cloud_group_list *l, struct adc_cloud_group *g, size_t *cap,
                      adc_member_key_fn key_of, void *ctx, const char *id, const char *type) {
    (void)l;
    adc_group_key key = key_of(ctx, id, type);
    if (key == ADC_GROUP_KEY_NONE || adc_grow_array(g->members, *cap, g->n_members, 16) < 0)
        return -ENOMEM;
    g->members[g->n_members++] = key;
    return 0;
}

static int gmember_element(struct adc_json_scan *s, size_t index, void *ctx) {
    (void)index;
    struct group_page *pg = ctx;
    struct adc_cloud_group *g = &pg->l->items[pg->l->n - 1];
    int r = adc_json_scan_object(s, gmember_member, pg);
    if (r == 0 && pg->value)
        r = add_member(pg->l, g, &pg->keys_cap, pg->key_of, pg->ctx, pg->value,
                       pg->type ? pg->type : "User");
    free(pg->value);
    free(pg->type);
    pg->value = pg->type = NULL;
    return r;
}

/* The group's extension: memberCount, to size its members' list once (no copies while it
 * grows: at 1,000,000 members 4 MB instead of up to 8 for a moment). */
static int group_ext_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct adc_cloud_group *g = ctx;
    bool number = false; /* anything else is skipped: the count is only a hint */
    for (const char *c = "-0123456789"; *c && !number; c++)
        number = adc_json_scan_next_is(s, *c);
    if (strcmp(key, "memberCount") != 0 || !number)
        return adc_json_scan_skip(s);
    long long n;
    int r = adc_json_scan_number(s, &n);
    g->member_count = r == 0 && n > 0 ? (size_t)n : 0;
    return r;
}

static int group_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct group_page *pg = ctx;
    struct adc_cloud_group *g = &pg->l->items[pg->l->n - 1];
    if (strcmp(key, "id") == 0)
        return dup_string(s, &g->id);
    if (strcmp(key, "externalId") == 0)
        return dup_string(s, &g->external_id);
    if (strcmp(key, "displayName") == 0)
        return dup_string(s, &g->display_name);
    if (strcmp(key, "members") == 0) {
        if (adc_json_scan_literal(s, "null"))
            return 0;
        if (!adc_json_scan_eat(s, '['))
            return adc_json_scan_fail(s, "members must be an array");
        return adc_json_scan_elements(s, gmember_element, pg);
    }
    if (strcmp(key, ADC_SCIM_SCHEMA_GROUP_PROVIDER) == 0 && adc_json_scan_next_is(s, '{'))
        return adc_json_scan_object(s, group_ext_member, g);
    return adc_json_scan_skip(s);
}

static int group_element(struct adc_json_scan *s, size_t index, void *ctx) {
    (void)index;
    struct group_page *pg = ctx;
    struct adc_cloud_group_list *l = pg->l;
    if (adc_grow_array(l->items, *pg->cap, l->n, 64) < 0)
        return -ENOMEM;
    memset(&l->items[l->n++], 0, sizeof(l->items[0])); /* counted now, so that it is freed */
    pg->keys_cap = 0;
    int r = adc_json_scan_object(s, group_member, pg);
    if (r == 0 && !l->items[l->n - 1].id)
        return adc_json_scan_fail(s, "a group without an id");
    pg->n_items++;
    return r;
}

static int group_list_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct group_page *pg = ctx;
    if (strcmp(key, "totalResults") == 0) {
        pg->has_total = true;
        return adc_json_scan_number(s, &pg->total);
    }
    if (strcmp(key, "Resources") == 0) {
        if (!adc_json_scan_eat(s, '['))
            return adc_json_scan_fail(s, "Resources must be an array");
        return adc_json_scan_elements(s, group_element, pg);
    }
    return adc_json_scan_skip(s);
}

/* GET of one page into l: 0 with *n_items and *total, or a negative errno with *err. */
static int group_page_get(struct adc_scim *s, const char *path, struct group_page *pg,
                          size_t *total, char **err) {
    struct adc_transport_reply resp = {.retry_after = -1};
    int r = adc_transport_request_retry(s->http, "GET", path, NULL, 0, 0, &resp);
    if (r < 0) {
        *err = TAKE_PTR(resp.error);
        goto out;
    }
    if (resp.status != 200) {
        adc_transport_status_error(s->http, "GET", path, &resp, err);
        r = adc_transport_status_errno(resp.status);
        goto out;
    }
    struct adc_json_scan sc;
    adc_json_scan_init(&sc, resp.body ? resp.body : "", resp.len, GROUP_PAGE_DEPTH);
    r = adc_json_scan_object(&sc, group_list_member, pg);
    if (r == 0)
        r = adc_json_scan_end(&sc);
    if (r == 0 && (!pg->has_total || pg->total < 0))
        r = adc_json_scan_fail(&sc, "no totalResults");
    free(pg->value);
    free(pg->type);
    pg->value = pg->type = NULL;
    if (r < 0) {
        char why[200];
        adc_json_scan_error(&sc, r, why, sizeof(why));
        *err = adc_strdup_printf("GET %s: not a SCIM ListResponse of Groups: %s", path, why);
        goto out;
    }
    *total = (size_t)pg->total;
out:
    adc_transport_reply_done(&resp);
    return r;
}

/* ---- the members, page by page --------------------------------------------------------------
 * The groups are listed without their members (excludedAttributes=members: 1,000 groups are a
 * few small pages whatever their sizes), then every membership of the configuration's groups
 * is read from adc-server's agent API in (group, member) order, MEMBERS_PAGE at a time
 * (docs/agent-protocol.md): a group of 1,000,000 members is 100 answers of about 1 MB instead
 * of one SCIM answer of 180 MB, more than a client may take (ADC_TRANSPORT_MAX_BODY). */

#define MEMBERS_PAGE 10000
#define MEMBERS_PRESIZE_MAX (4u * 1024 * 1024)
#define MEMBER_ID_MAX 256 /* ids are the server's UUIDs; anything longer is not a member id */

struct member_page {
    struct adc_cloud_group_list *l;
    size_t *keys_cap; /* per group */
    const struct adc_strindex *by_id;
    adc_member_key_fn key_of;
    void *ctx;
    char group[MEMBER_ID_MAX], value[MEMBER_ID_MAX], type[16];
    char *next;
    size_t n;
};

/* A short string into buf (decoded); over-long strings fail the page. */
static int scan_small(struct adc_json_scan *s, char *buf, size_t size) {
    const char *raw;
    size_t len;
    bool esc;
    int r = adc_json_scan_string(s, &raw, &len, &esc);
    if (r < 0)
        return r;
    if (len >= size)
        return adc_json_scan_fail(s, "an id longer than any the server gives");
    if (esc)
        adc_json_unescape(raw, len, buf);
    else {
        memcpy(buf, raw, len);
        buf[len] = '\0';
    }
    return 0;
}

static int membership_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct member_page *mp = ctx;
    if (strcmp(key, "group") == 0)
        return scan_small(s, mp->group, sizeof(mp->group));
    if (strcmp(key, "value") == 0)
        return scan_small(s, mp->value, sizeof(mp->value));
    if (strcmp(key, "type") == 0)
        return scan_small(s, mp->type, sizeof(mp->type));
    return adc_json_scan_skip(s);
}

static int membership_element(struct adc_json_scan *s, size_t index, void *ctx) {
    (void)index;
    struct member_page *mp = ctx;
    mp->group[0] = mp->value[0] = mp->type[0] = '\0';
    int r = adc_json_scan_object(s, membership_member, mp);
    if (r < 0)
        return r;
    mp->n++;
    size_t gi = adc_strindex_get(mp->by_id, mp->group);
    if (gi == ADC_STRINDEX_NONE || !mp->value[0])
        return 0; /* a group created since the listing: not this run's business */
    return add_member(mp->l, &mp->l->items[gi], &mp->keys_cap[gi], mp->key_of, mp->ctx, mp->value,
                      mp->type[0] ? mp->type : "User");
}

static int membership_list_member(struct adc_json_scan *s, const char *key, void *ctx) {
    struct member_page *mp = ctx;
    if (strcmp(key, "Resources") == 0) {
        if (!adc_json_scan_eat(s, '['))
            return adc_json_scan_fail(s, "Resources must be an array");
        return adc_json_scan_elements(s, membership_element, mp);
    }
    if (strcmp(key, ADC_WIRE_NEXT) == 0) {
        if (adc_json_scan_literal(s, "null"))
            return 0;
        free(mp->next);
        mp->next = NULL;
        return adc_json_scan_string_dup(s, &mp->next);
    }
    return adc_json_scan_skip(s);
}

/* Every membership of the listed groups into their members. */
static int read_memberships(struct adc_scim *s, struct adc_cloud_group_list *l,
                            adc_member_key_fn key_of, void *ctx, char **err) {
    struct adc_strindex by_id;
    size_t *caps = calloc(l->n + 1, sizeof(*caps));
    if (!caps || adc_strindex_init(&by_id, l->n, false) < 0) {
        free(caps);
        return -ENOMEM;
    }
    /* Each list sized by its memberCount, within bounds a server cannot push: a group at most
     * MEMBERS_PRESIZE_MAX, all of them twice that (beyond, the lists grow as they fill). */
    size_t presized = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct adc_cloud_group *g = &l->items[i];
        adc_strindex_put(&by_id, g->id, i);
        caps[i] = g->n_members; /* none: listed with excludedAttributes=members */
        size_t want = g->member_count;
        if (!g->members && want && want <= MEMBERS_PRESIZE_MAX &&
            presized + want <= 2 * MEMBERS_PRESIZE_MAX &&
            (g->members = malloc(want * sizeof(*g->members)))) {
            caps[i] = want;
            presized += want;
        }
    }
    struct member_page mp = {
        .l = l, .keys_cap = caps, .by_id = &by_id, .key_of = key_of, .ctx = ctx};
    char *after = NULL;
    int r = 0;
    while (r == 0) {
        struct adc_buf path;
        adc_buf_init(&path, 0);
        adc_buf_printf(&path, ADC_WIRE_AGENT_GROUP_MEMBERS "?count=%d", MEMBERS_PAGE);
        if (after) {
            char *q = query_escape(after);
            adc_buf_printf(&path, "&" ADC_WIRE_AFTER "=%s", q ? q : "");
            if (!q)
                path.failed = true;
            free(q);
        }
        if (path.failed) {
            adc_buf_done(&path);
            r = -ENOMEM;
            break;
        }
        struct adc_transport_reply resp = {.retry_after = -1};
        r = adc_transport_request_retry(s->http, "GET", path.data, NULL, 0, 0, &resp);
        if (r < 0) {
            *err = TAKE_PTR(resp.error);
        } else if (resp.status != 200) {
            adc_transport_status_error(s->http, "GET", path.data, &resp, err);
            r = adc_transport_status_errno(resp.status);
        } else {
            struct adc_json_scan sc;
            adc_json_scan_init(&sc, resp.body ? resp.body : "", resp.len, GROUP_PAGE_DEPTH);
            mp.n = 0;
            r = adc_json_scan_object(&sc, membership_list_member, &mp);
            if (r == 0)
                r = adc_json_scan_end(&sc);
            if (r < 0 && r != -ENOMEM) {
                char why[200];
                adc_json_scan_error(&sc, r, why, sizeof(why));
                *err = adc_strdup_printf("GET %s: not a page of group members: %s", path.data, why);
            }
        }
        adc_transport_reply_done(&resp);
        adc_buf_done(&path);
        bool stuck = r == 0 && after && mp.next && strcmp(after, mp.next) == 0;
        free(after);
        after = TAKE_PTR(mp.next);
        if (r < 0 || !after)
            break;
        if (stuck) { /* the same cursor again: a list that would never end */
            *err = strdup("the server's list of group members does not move on");
            r = -EBADMSG;
        }
    }
    free(after);
    free(mp.next);
    free(caps);
    adc_strindex_done(&by_id);
    return r;
}

int adc_scim_list_groups(struct adc_scim *s, const char *app_id, adc_member_key_fn key_of,
                         void *ctx, struct adc_cloud_group_list *out, char **err) {
    struct adc_cloud_group_list l = {0};
    size_t cap = 0;
    char *filter = provider_filter(ADC_SCIM_SCHEMA_GROUP_PROVIDER, app_id);
    int r = -ENOMEM;
    if (!filter)
        goto out;
    for (size_t start = 1;;) {
        char path[512 + 96];
        snprintf(path, sizeof(path),
                 ADC_WIRE_SCIM_GROUPS
                 "?filter=%s&startIndex=%zu&count=%d&excludedAttributes=members",
                 filter, start, PAGE);
        struct group_page pg = {.key_of = key_of, .ctx = ctx, .l = &l, .cap = &cap};
        size_t total = 0;
        if ((r = group_page_get(s, path, &pg, &total, err)) < 0)
            goto out;
        start += pg.n_items;
        if (pg.n_items == 0 || start > total)
            break;
    }
    if (l.n && (r = read_memberships(s, &l, key_of, ctx, err)) < 0) {
        if (r == -ENOMEM && !*err)
            *err = strdup("out of memory");
        goto out;
    }
    *out = l;
    memset(&l, 0, sizeof(l)); /* owned by the caller now */
    r = 0;
out:
    free(filter);
    adc_cloud_group_list_done(&l);
    return r;
}

void adc_cloud_group_list_done(struct adc_cloud_group_list *l) {
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        adc_cloud_group_done(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

int adc_scim_list_user_ids(struct adc_scim *s, const char *app_id,
                           void (*fn)(void *ctx, const char *external_id, const char *id),
                           void *ctx, char **err) {
    /* Whole users, not attributes=externalId: the server renders a projection through a JSON
     * tree per user but whole users as stored text, several times faster at 100,000; they are
     * read without a tree here too (cloud/scim-list-parse.h), a page at a time. */
    char *filter = provider_filter(ADC_SCIM_SCHEMA_PROVIDER, app_id);
    if (!filter)
        return -ENOMEM;
    int r = 0;
    for (size_t start = 1;;) {
        char path[512 + 96];
        snprintf(path, sizeof(path), ADC_WIRE_SCIM_USERS "?filter=%s&startIndex=%zu&count=2000",
                 filter, start);
        struct adc_transport_reply resp = {.retry_after = -1};
        struct adc_cloud_users page;
        adc_cloud_users_init(&page);
        size_t total = 0, n = 0;
        r = adc_transport_request_retry(s->http, "GET", path, NULL, 0, 0, &resp);
        if (r < 0) {
            *err = TAKE_PTR(resp.error);
        } else if (resp.status != 200) {
            adc_transport_status_error(s->http, "GET", path, &resp, err);
            r = adc_transport_status_errno(resp.status);
        } else {
            char why[200];
            r = adc_scim_list_parse(resp.body ? resp.body : "", resp.len, &page, &total, &n, why,
                                    sizeof(why));
            if (r == -EBADMSG)
                *err = adc_strdup_printf("GET %s: not a SCIM ListResponse of Users: %s", path, why);
        }
        adc_transport_reply_done(&resp);
        for (size_t i = 0; r == 0 && i < page.n; i++) {
            char ib[ADC_UUID_TEXT], eb[ADC_UUID_TEXT];
            const char *id = adc_cloud_user_id(&page.items[i], ib);
            const char *ext = adc_cloud_user_external_id(&page.items[i], eb);
            if (ext && id)
                fn(ctx, ext, id);
        }
        adc_cloud_users_done(&page);
        if (r < 0)
            break;
        start += n;
        if (n == 0 || start > total)
            break;
    }
    free(filter);
    return r;
}

int adc_scim_find_group(struct adc_scim *s, const char *app_id, const char *external_id, char **id,
                        char **display_name, bool *foreign, char **err) {
    *id = NULL;
    if (display_name)
        *display_name = NULL;
    *foreign = false;
    char *f = adc_scim_filter_eq("externalId", external_id);
    char *q = f ? query_escape(f) : NULL;
    free(f);
    if (!q)
        return -ENOMEM;
    struct adc_buf path;
    adc_buf_init(&path, 0);
    adc_buf_printf(&path, ADC_WIRE_SCIM_GROUPS "?filter=%s&excludedAttributes=members&count=20", q);
    free(q);
    json_t *page = NULL;
    int r = path.failed ? -ENOMEM : adc_scim_call(s, "GET", path.data, NULL, &page, err);
    adc_buf_done(&path);
    if (r < 0)
        return r;
    const json_t *res = json_object_get(page, "Resources");
    for (size_t i = 0; i < json_array_size(res) && !*id; i++) {
        const json_t *g = json_array_get(res, i);
        const char *ext = json_string_value(json_object_get(g, "externalId"));
        const json_t *x = json_object_get(g, ADC_SCIM_SCHEMA_GROUP_PROVIDER);
        const char *provider = json_string_value(json_object_get(x, "provider"));
        if (!ext || strcmp(ext, external_id) != 0)
            continue;
        if (!provider || strcmp(provider, app_id) != 0) {
            *foreign = true; /* rule 3: another configuration's (or a local) group */
            continue;
        }
        *id = dup_str(json_object_get(g, "id"));
        if (display_name)
            *display_name = dup_str(json_object_get(g, "displayName"));
        if (!*id)
            r = -ENOMEM;
    }
    json_decref(page);
    return r;
}

int adc_scim_group_member_ids(struct adc_scim *s, const char *id, char ***ids, size_t *n,
                              char **err) {
    char path[160];
    snprintf(path, sizeof(path), ADC_WIRE_SCIM_GROUPS "/%s?attributes=members", id);
    json_t *g = NULL;
    *ids = NULL;
    *n = 0;
    int r = adc_scim_call(s, "GET", path, NULL, &g, err);
    if (r < 0)
        return r;
    const json_t *members = json_object_get(g, "members");
    size_t m = json_array_size(members);
    char **v = calloc(m + 1, sizeof(*v));
    if (!v) {
        json_decref(g);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        const char *value = json_string_value(json_object_get(json_array_get(members, i), "value"));
        if (value && !(v[k++] = strdup(value))) {
            r = -ENOMEM;
            break;
        }
    }
    json_decref(g);
    if (r < 0) {
        for (size_t i = 0; i < k; i++)
            free(v[i]);
        free(v);
        return r;
    }
    *ids = v;
    *n = k;
    return 0;
}

/* PATCH /scim/v2/Groups/{id} with body; *bytes grows by its size. */
static int patch(struct adc_scim *s, const char *id, struct adc_buf *body, size_t *bytes,
                 char **err) {
    if (body->failed)
        return -ENOMEM;
    char path[128];
    snprintf(path, sizeof(path), ADC_WIRE_SCIM_GROUPS "/%s?excludedAttributes=members", id);
    if (bytes)
        *bytes += body->len;
    json_t *answer = NULL;
    int r = adc_scim_call(s, "PATCH", path, body->data, &answer, err);
    json_decref(answer);
    return r;
}

static void patch_start(struct adc_buf *b) {
    adc_buf_init(b, 0);
    adc_buf_puts(b, "{\"schemas\":[\"" ADC_SCIM_SCHEMA_PATCH "\"],\"Operations\":[");
}

int adc_scim_group_create(struct adc_scim *s, const char *name, const char *external_id, char **id,
                          char **err) {
    struct adc_buf b;
    adc_buf_init(&b, 0);
    adc_buf_puts(&b, "{\"schemas\":[\"" ADC_SCIM_SCHEMA_GROUP "\"],\"displayName\":");
    adc_json_append_string(&b, name);
    adc_buf_puts(&b, ",\"externalId\":");
    adc_json_append_string(&b, external_id);
    adc_buf_puts(&b, "}");
    json_t *answer = NULL;
    int r =
        b.failed ? -ENOMEM : adc_scim_call(s, "POST", ADC_WIRE_SCIM_GROUPS, b.data, &answer, err);
    adc_buf_done(&b);
    if (r == 0 && !(*id = dup_str(json_object_get(answer, "id")))) {
        *err = strdup("the server answered a group create without an id");
        r = -EBADMSG;
    }
    json_decref(answer);
    return r;
}

int adc_scim_group_rename(struct adc_scim *s, const char *id, const char *name, char **err) {
    struct adc_buf b;
    patch_start(&b);
    adc_buf_puts(&b, "{\"op\":\"replace\",\"path\":\"displayName\",\"value\":");
    adc_json_append_string(&b, name);
    adc_buf_puts(&b, "}]}");
    int r = patch(s, id, &b, NULL, err);
    adc_buf_done(&b);
    return r;
}

int adc_scim_group_add(struct adc_scim *s, const char *id, const char *const *member_ids,
                       const char *const *types, size_t n, size_t chunk, size_t *bytes,
                       char **err) {
    int r = 0;
    for (size_t at = 0; r == 0 && at < n; at += chunk) {
        struct adc_buf b;
        patch_start(&b);
        adc_buf_puts(&b, "{\"op\":\"add\",\"path\":\"members\",\"value\":[");
        for (size_t i = at; i < n && i < at + chunk; i++) {
            adc_buf_puts(&b, i > at ? ",{\"value\":" : "{\"value\":");
            adc_json_append_string(&b, member_ids[i]);
            adc_buf_puts(&b, ",\"type\":");
            adc_json_append_string(&b, types[i]);
            adc_buf_puts(&b, "}");
        }
        adc_buf_puts(&b, "]}]}");
        r = patch(s, id, &b, bytes, err);
        adc_buf_done(&b);
    }
    return r;
}

int adc_scim_group_remove(struct adc_scim *s, const char *id, const char *const *member_ids,
                          size_t n, size_t chunk, size_t *bytes, char **err) {
    int r = 0;
    for (size_t at = 0; r == 0 && at < n; at += chunk) {
        struct adc_buf b;
        patch_start(&b);
        for (size_t i = at; i < n && i < at + chunk; i++) {
            /* members[value eq "id"]: the filter's string is a JSON string inside a JSON
             * string, escaped twice. */
            struct adc_buf f;
            adc_buf_init(&f, 0);
            adc_buf_puts(&f, "members[value eq ");
            adc_json_append_string(&f, member_ids[i]);
            adc_buf_puts(&f, "]");
            adc_buf_puts(&b,
                         i > at ? ",{\"op\":\"remove\",\"path\":" : "{\"op\":\"remove\",\"path\":");
            adc_json_append_string(&b, f.data ? f.data : "");
            adc_buf_puts(&b, "}");
            adc_buf_done(&f);
        }
        adc_buf_puts(&b, "]}");
        r = patch(s, id, &b, bytes, err);
        adc_buf_done(&b);
    }
    return r;
}

int adc_scim_group_delete(struct adc_scim *s, const char *id, char **err) {
    char path[128];
    snprintf(path, sizeof(path), ADC_WIRE_SCIM_GROUPS "/%s", id);
    json_t *answer = NULL;
    int r = adc_scim_call(s, "DELETE", path, NULL, &answer, err);
    json_decref(answer);
    return r;
}

/* A Bulk request's share of the limits: the payload with room for the closing brackets. */
static size_t bulk_budget(const struct adc_scim_limits *limits) {
    size_t max = limits->max_payload ? limits->max_payload : 1024 * 1024;
    return max > 4096 ? max - 1024 : max;
}

/* Settles the answer of one Bulk request of creates g[first..first+n). */
static void bulk_settle(const json_t *answer, struct adc_scim_group_new *g, size_t first,
                        size_t n) {
    const json_t *ops = json_object_get(answer, "Operations");
    for (size_t k = 0; k < json_array_size(ops); k++) {
        const json_t *op = json_array_get(ops, k);
        const char *bulk_id = json_string_value(json_object_get(op, "bulkId"));
        char *end;
        unsigned long long i = bulk_id && bulk_id[0] == 'g' ? strtoull(bulk_id + 1, &end, 10) : 0;
        if (!bulk_id || bulk_id[0] != 'g' || *end || i < first || i >= first + n)
            continue;
        const json_t *st = json_object_get(op, "status");
        long status = json_is_string(st) ? strtol(json_string_value(st), NULL, 10)
                                         : (long)json_integer_value(st);
        const char *loc = json_string_value(json_object_get(op, "location"));
        const char *slash = loc ? strrchr(loc, '/') : NULL;
        if (status == 201 && slash && slash[1]) {
            g[i].id = strdup(slash + 1);
            continue;
        }
        const json_t *resp = json_object_get(op, "response");
        const char *detail = json_string_value(json_object_get(resp, "detail"));
        g[i].error =
            adc_strdup_printf("HTTP %ld%s%s", status, detail ? ": " : "", detail ? detail : "");
        g[i].n_sent = 0;
    }
    for (size_t i = first; i < first + n; i++)
        if (!g[i].id && !g[i].error)
            g[i].error = strdup("the server's Bulk answer has no result for it");
}

int adc_scim_groups_create_bulk(struct adc_scim *s, const struct adc_scim_limits *limits,
                                struct adc_scim_group_new *g, size_t n, size_t *bytes, char **err) {
    size_t budget = bulk_budget(limits);
    size_t max_ops = limits->max_operations ? limits->max_operations : 1000;
    int r = 0;
    for (size_t i = 0; r == 0 && i < n;) {
        struct adc_buf b;
        adc_buf_init(&b, 0);
        adc_buf_puts(&b, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:BulkRequest\"],"
                         "\"Operations\":[");
        size_t first = i, ops = 0;
        bool full = false;
        while (i < n && ops < max_ops && !full) {
            size_t head = 256 + strlen(g[i].name) * 6 + strlen(g[i].external_id) * 6;
            if (ops > 0 && b.len + head > budget)
                break;
            adc_buf_printf(&b,
                           "%s{\"method\":\"POST\",\"path\":\"/Groups\",\"bulkId\":\"g%zu\","
                           "\"data\":{\"schemas\":[\"" ADC_SCIM_SCHEMA_GROUP "\"],"
                           "\"displayName\":",
                           ops ? "," : "", i);
            adc_json_append_string(&b, g[i].name);
            adc_buf_puts(&b, ",\"externalId\":");
            adc_json_append_string(&b, g[i].external_id);
            adc_buf_puts(&b, ",\"members\":[");
            size_t before = b.len;
            g[i].n_sent = 0;
            for (size_t m = 0; m < g[i].n_members; m++) {
                /* ids and types are the server's and ours: no escapes, 32 bytes of syntax */
                if (b.len + strlen(g[i].member_ids[m]) + 40 + 8 > budget) {
                    full = true; /* the rest by PATCH (the caller) */
                    break;
                }
                adc_buf_puts(&b, m ? ",{\"value\":" : "{\"value\":");
                adc_json_append_string(&b, g[i].member_ids[m]);
                adc_buf_puts(&b, ",\"type\":");
                adc_json_append_string(&b, g[i].types[m]);
                adc_buf_puts(&b, "}");
                g[i].n_sent++;
            }
            if (bytes)
                *bytes += b.len - before;
            adc_buf_puts(&b, "]}}");
            ops++;
            i++;
        }
        adc_buf_puts(&b, "]}");
        json_t *answer = NULL;
        r = b.failed ? -ENOMEM : adc_scim_call(s, "POST", ADC_WIRE_SCIM_BULK, b.data, &answer, err);
        adc_buf_done(&b);
        if (r == 0)
            bulk_settle(answer, g, first, ops);
        json_decref(answer);
    }
    return r;
}

void adc_scim_group_new_done(struct adc_scim_group_new *g, size_t n) {
    for (size_t i = 0; g && i < n; i++) {
        free(g[i].id);
        free(g[i].error);
        g[i].id = g[i].error = NULL;
    }
}
