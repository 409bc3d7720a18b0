/* The group graph of live membership changes (group-graph.h): the groups `adc run` knows, their
 * direct members, and the walks over them (a group's effective members, the groups a change
 * affects). Pure memory; group-delta.c talks to the directory and the cloud. */
#include "sync/group-graph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/macros.h"
#include "directory/ldap-source.h"
#include "sync/group-delta.h"
#include "sync/group-plan.h"

void adc_graph_strings_free(char **a, size_t n) {
    for (size_t i = 0; a && i < n; i++)
        free(a[i]);
    free(a);
}

void adc_graph_node_free(struct adc_graph_node *g) {
    free(g->ext);
    free(g->dn);
    free(g->name);
    free(g->cloud_id);
    adc_graph_strings_free(g->members, g->n);
    memset(g, 0, sizeof(*g));
}

void adc_group_graph_free(struct adc_group_graph *gr) {
    if (!gr)
        return;
    for (size_t i = 0; i < gr->n; i++)
        adc_graph_node_free(&gr->v[i]);
    free(gr->v);
    adc_strindex_done(&gr->by_dn);
    free(gr);
}

int adc_graph_cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The direct members of g as the graph keeps them (new strings, sorted, no repeats). */
int adc_graph_member_list(const char *const *dns, size_t n_dns, const char *const *uids,
                          size_t n_uids, char ***out, size_t *n_out) {
    char **v = calloc(n_dns + n_uids + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < n_dns; i++)
        if (!(v[n++] = adc_dn_normalize(dns[i])))
            goto fail;
    for (size_t i = 0; i < n_uids; i++)
        if (!(v[n++] = adc_strdup_printf("#%s", uids[i])))
            goto fail;
    qsort(v, n, sizeof(*v), adc_graph_cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && strcmp(v[i], v[k - 1]) == 0)
            free(v[i]);
        else
            v[k++] = v[i];
    }
    *out = v;
    *n_out = k;
    return 0;
fail:
    adc_graph_strings_free(v, n);
    return -ENOMEM;
}

int adc_graph_reindex(struct adc_group_graph *gr) {
    adc_strindex_done(&gr->by_dn);
    if (adc_strindex_init(&gr->by_dn, gr->n + 1, false) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < gr->n; i++)
        if (!gr->v[i].gone)
            adc_strindex_put(&gr->by_dn, gr->v[i].dn, i);
    return 0;
}

size_t adc_graph_find(const struct adc_group_graph *gr, const char *ext) {
    for (size_t i = 0; gr && i < gr->n; i++) /* O(groups): a few microseconds for thousands */
        if (strcmp(gr->v[i].ext, ext) == 0)
            return i;
    return SIZE_MAX;
}

/* The group whose DN is m, or SIZE_MAX. */
size_t adc_graph_group_at(const struct adc_group_graph *gr, const char *m) {
    if (m[0] == '#')
        return SIZE_MAX;
    size_t i = adc_strindex_get(&gr->by_dn, m);
    return i == ADC_STRINDEX_NONE || gr->v[i].gone ? SIZE_MAX : i;
}

bool adc_graph_has_member(const struct adc_graph_node *g, const char *m) {
    return g->n && bsearch(&m, g->members, g->n, sizeof(char *), adc_graph_cmp_str) != NULL;
}

static int push(const char ***a, size_t *n, size_t *cap, const char *s) {
    if (adc_grow_array(*a, *cap, *n, 16) < 0)
        return -ENOMEM;
    (*a)[(*n)++] = s;
    return 0;
}

/* What group gi has in the cloud's terms: its direct members (keep), or the users of it and of
 * every group below it (flatten; a cycle ends the walk). Lent pointers, sorted, no repeats. */
int adc_graph_effective(const struct adc_group_graph *gr, size_t gi, bool flatten,
                        const char ***out, size_t *n_out) {
    const char **v = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    if (!flatten) {
        for (size_t i = 0; i < gr->v[gi].n && r == 0; i++)
            r = push(&v, &n, &cap, gr->v[gi].members[i]);
    } else {
        bool *seen = calloc(gr->n + 1, sizeof(*seen));
        size_t *stack = calloc(gr->n + 1, sizeof(*stack));
        size_t top = 0;
        if (!seen || !stack)
            r = -ENOMEM;
        else {
            stack[top++] = gi;
            seen[gi] = true;
        }
        while (r == 0 && top > 0) {
            const struct adc_graph_node *g = &gr->v[stack[--top]];
            for (size_t i = 0; i < g->n && r == 0; i++) {
                size_t sub = adc_graph_group_at(gr, g->members[i]);
                if (sub == SIZE_MAX)
                    r = push(&v, &n, &cap, g->members[i]);
                else if (!seen[sub]) {
                    seen[sub] = true;
                    stack[top++] = sub;
                }
            }
        }
        free(seen);
        free(stack);
    }
    if (r < 0) {
        free(v);
        return r;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), adc_graph_cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(v[i], v[k - 1]) != 0)
            v[k++] = v[i];
    *out = v;
    *n_out = k;
    return 0;
}

/* The groups whose members change when group gi changes: gi, and with flatten every group that
 * contains it directly or through others (also by old_dn, its DN before a rename). */
int adc_graph_affected(const struct adc_group_graph *gr, size_t gi, const char *old_dn,
                       bool flatten, size_t **out, size_t *n_out) {
    size_t *list = calloc(gr->n + 1, sizeof(*list));
    bool *in = calloc(gr->n + 1, sizeof(*in));
    if (!list || !in) {
        free(list);
        free(in);
        return -ENOMEM;
    }
    size_t n = 0;
    list[n++] = gi;
    in[gi] = true;
    for (size_t k = 0; flatten && k < n; k++) {
        const struct adc_graph_node *t = &gr->v[list[k]];
        for (size_t a = 0; a < gr->n; a++) {
            if (in[a] || gr->v[a].gone)
                continue;
            if (adc_graph_has_member(&gr->v[a], t->dn) ||
                (list[k] == gi && old_dn && adc_graph_has_member(&gr->v[a], old_dn))) {
                in[a] = true;
                list[n++] = a;
            }
        }
    }
    free(in);
    *out = list;
    *n_out = n;
    return 0;
}

/* want minus have, have minus want (sorted, lent pointers). */
int adc_graph_diff(const char **want, size_t n_want, const char **have, size_t n_have,
                   const char ***add, size_t *n_add, const char ***rem, size_t *n_rem) {
    size_t ca = 0, cr = 0, i = 0, j = 0;
    *add = NULL, *rem = NULL, *n_add = 0, *n_rem = 0;
    int r = 0;
    while (r == 0 && (i < n_want || j < n_have)) {
        int c = i == n_want ? 1 : j == n_have ? -1 : strcmp(want[i], have[j]);
        if (c < 0)
            r = push(add, n_add, &ca, want[i++]);
        else if (c > 0)
            r = push(rem, n_rem, &cr, have[j++]);
        else
            i++, j++;
    }
    return r;
}

int adc_graph_append(struct adc_group_graph *gr, struct adc_graph_node *g) {
    if (adc_grow_array(gr->v, gr->cap, gr->n, 64) < 0)
        return -ENOMEM;
    gr->v[gr->n++] = *g;
    memset(g, 0, sizeof(*g));
    return 0;
}
