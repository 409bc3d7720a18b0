/* The group graph of live membership changes: what `adc run` keeps in memory of the groups it
 * syncs (sync/group-delta.h says what it costs), and the walks over it. Internal to
 * group-delta.c and group-graph.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sync/str-index.h"

struct adc_graph_node {
    char *ext;
    char *dn; /* normalized (adc_dn_normalize) */
    char *name;
    char *cloud_id; /* NULL: not looked up yet, or not in the cloud */
    char **members; /* direct members: normalized DNs, memberUid values as "#value"; sorted */
    size_t n;
    bool gone; /* being deleted: no longer a group for the walks */
};

struct adc_group_graph {
    struct adc_graph_node *v;
    size_t n, cap;
    struct adc_strindex by_dn; /* normalized DN -> position, rebuilt when groups come and go */
    bool seeded;
};

/* strcmp for qsort/bsearch over arrays of strings. */
int adc_graph_cmp_str(const void *a, const void *b);
/* Frees n strings and the array; accepts NULL. */
void adc_graph_strings_free(char **a, size_t n);
/* Frees what a node owns (not the node). */
void adc_graph_node_free(struct adc_graph_node *g);
/* The direct members of a group as the graph keeps them, from its member DNs and memberUid
 * values: new strings, sorted, no repeats, in *out (*n_out). 0 or -ENOMEM. */
int adc_graph_member_list(const char *const *dns, size_t n_dns, const char *const *uids,
                          size_t n_uids, char ***out, size_t *n_out);
/* Rebuilds the DN index after groups came or went. 0 or -ENOMEM. */
int adc_graph_reindex(struct adc_group_graph *gr);
/* The position of the group with this externalId, or SIZE_MAX. */
size_t adc_graph_find(const struct adc_group_graph *gr, const char *ext);
/* The group whose DN is m, or SIZE_MAX. */
size_t adc_graph_group_at(const struct adc_group_graph *gr, const char *m);
/* Whether m is a direct member of g. */
bool adc_graph_has_member(const struct adc_graph_node *g, const char *m);
/* What group gi has in the cloud's terms: its direct members (keep), or the users of it and of
 * every group below it (flatten; a cycle ends the walk). Lent pointers, sorted, no repeats;
 * the array is the caller's to free. 0 or -ENOMEM. */
int adc_graph_effective(const struct adc_group_graph *gr, size_t gi, bool flatten,
                        const char ***out, size_t *n_out);
/* The groups whose members change when group gi changes: gi, and with flatten every group that
 * contains it directly or through others (also by old_dn, its DN before a rename). Positions in
 * *out (the caller's to free). 0 or -ENOMEM. */
int adc_graph_affected(const struct adc_group_graph *gr, size_t gi, const char *old_dn,
                       bool flatten, size_t **out, size_t *n_out);
/* want minus have (*add) and have minus want (*rem), both sorted lists of lent pointers; the
 * arrays are the caller's to free. 0 or -ENOMEM. */
int adc_graph_diff(const char **want, size_t n_want, const char **have, size_t n_have,
                   const char ***add, size_t *n_add, const char ***rem, size_t *n_rem);
/* Moves *g to the end of the graph (g is zeroed). 0 or -ENOMEM. */
int adc_graph_append(struct adc_group_graph *gr, struct adc_graph_node *g);
