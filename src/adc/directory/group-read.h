/* Reading the directory's groups (docs/product.md section 10): every entry matching
 * backend.ldap.groups.filter under base_dn, completely or not at all, as users are read (rule 5:
 * a broken read writes nothing). Members are kept as the directory names them (DNs of member
 * and uniqueMember, values of memberUid); sync/group-plan.c resolves them to synced users and
 * groups. Active Directory's large groups come in ranges (member;range=0-1499, ...: it returns
 * at most MaxValRange values at once): all ranges are read. */
#pragma once

#include <ldap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "config/config.h"
#include "directory/ldap-source.h"

struct adc_dir_group {
    char *dn;
    char *external_id; /* the immutable identifier, as for users (rule 1) */
    char *name;        /* the single value of groups.name_attribute: the cloud displayName */
    char **member_dns; /* member and uniqueMember values (uniqueMember's "#uid" suffix cut) */
    size_t n_member_dns;
    char **member_uids; /* memberUid values (posixGroup: user names) */
    size_t n_member_uids;
    unsigned rid; /* AD: the last sub-authority of objectSid, which users' primaryGroupID names;
                   * 0 when none */
    /* Members that adc_ldap_read_groups_resolved's resolver named by position (a directory
     * user's, for the sync): 4 bytes each instead of the DN's text. Their DNs are not in
     * member_dns. */
    uint32_t *member_pos;
    size_t n_member_pos;
    /* Members that adc_ldap_read_groups_digested's digest function named by a 64-bit digest of
     * their DN, once the read's text budget was spent: 8 bytes each, for a read made before the
     * users are (sync/group-sync.c resolves them to positions then). n_members_unknown: those
     * that named no user or group then (counted, their text not kept). */
    uint64_t *member_digest;
    size_t n_member_digest;
    size_t n_members_unknown;
    /* The sync resolved the member DNs it could (to member_pos): those left in member_dns name
     * no user or group of the read. */
    bool dns_resolved;
    /* The member values' text, one after the other in blocks (no allocation per value: at
     * 1,000,000 members about 20 MB less, docs/BENCHMARKS.md, issue 21): free the members
     * with adc_dir_group_members_free, never one by one. */
    struct adc_arena strings;
};

struct adc_group_read {
    struct adc_dir_group *groups;
    size_t n, cap;
    /* Entries that did not become groups (no name, no identifier), with the reason. */
    struct adc_skipped_entry *skipped;
    size_t n_skipped, cap_skipped;
};

/* Reads every group. Returns 0 only after a complete enumeration (every page, every range of
 * every large group); otherwise a negative errno with *err (a new string) saying what failed.
 * Bounded: at most 10,000,000 member values in all. */
int adc_ldap_read_groups(const struct adc_ldap_config *cfg, struct adc_group_read *out, char **err);
void adc_group_read_done(struct adc_group_read *r);

/* A member DN (member, or uniqueMember without its "#uid"; not NUL-terminated: len bytes) to a
 * position, or UINT32_MAX to keep it as text in member_dns. Called on the reading thread. */
typedef uint32_t (*adc_member_resolve_fn)(void *ctx, const char *dn, size_t len);
/* adc_ldap_read_groups, with the members that resolve() names kept as positions (member_pos):
 * a sync resolves them to its directory users as they arrive, and a group of 1,000,000
 * members costs 4 MB instead of about 55 (docs/BENCHMARKS.md, issue 21). */
int adc_ldap_read_groups_resolved(const struct adc_ldap_config *cfg, adc_member_resolve_fn resolve,
                                  void *ctx, struct adc_group_read *out, char **err);

/* A member DN (member, or uniqueMember without its "#uid"; len bytes) to a 64-bit digest in *out:
 * true, or false to keep it as text. Called on the reading thread. */
typedef bool (*adc_member_digest_fn)(void *ctx, const char *dn, size_t len, uint64_t *out);
/* adc_ldap_read_groups, for a sync that reads the groups before the users: member DNs are kept
 * as text until `text_budget` bytes of them are, then as digest() gives them (member_digest).
 * The read's largest message (a group of 1,000,000 members is one LDAP message of about 45 MB)
 * then comes before the users take their memory, and the members cost 8 bytes each
 * (docs/BENCHMARKS.md, issue 21). */
int adc_ldap_read_groups_digested(const struct adc_ldap_config *cfg, adc_member_digest_fn digest,
                                  void *ctx, size_t text_budget, struct adc_group_read *out,
                                  char **err);

/* Reads the one group entry `dn` on `ld` (bound as bind_dn), members and ranges included, for a
 * live change (sync/group-delta.h). in_scope: with groups.filter, so that an entry outside it
 * reads as not found; else any entry with a name and an identifier. Returns 0 with *found (and
 * *out, to free with adc_dir_group_done, when found), or a negative errno with *err: -EIO (the
 * connection was lost: open a new one), -ETIMEDOUT, -EPROTO, -ENOMEM. */
int adc_ldap_read_group(const struct adc_ldap_config *cfg, LDAP *ld, const char *dn, bool in_scope,
                        struct adc_dir_group *out, bool *found, char **err);
/* Frees what one group holds (not the struct itself). Accepts a zeroed group. */
void adc_dir_group_done(struct adc_dir_group *g);
/* Frees the group's member values (member_dns, member_uids and their text) and leaves it
 * without members; the rest of the group stays. */
void adc_dir_group_members_free(struct adc_dir_group *g);

/* The RID of a binary SID ([MS-DTYP] 2.4.2: revision, count, 6-byte authority, count 32-bit
 * little-endian sub-authorities; the RID is the last). 0 when the bytes are not a SID. Pure. */
unsigned adc_sid_rid(const unsigned char *sid, size_t len);

/* The lower and upper bound of an attribute description with a range option
 * ("member;range=1500-2999" -> 1500, 2999; "member;range=3000-*" -> 3000, -1). Returns 0, or -1
 * when desc is not `attr;range=LOW-HIGH`. Pure; unit-tested. */
int adc_ldap_range_parse(const char *desc, const char *attr, long *low, long *high);
