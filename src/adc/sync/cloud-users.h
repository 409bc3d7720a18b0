/* The cloud users of one sync, as listed from adc-server. Their strings live in large blocks
 * (one allocation per 256 KiB instead of nine per user) and the owner, nearly always the same
 * Application ID, is stored once: 100,000 users take a fraction of the memory and of the
 * malloc time they would as separate strings (docs/product.md section 8). */
#pragma once

#include <stddef.h>

#include "common/user.h"

struct adc_cloud_block;

struct adc_cloud_users {
    struct adc_user *items; /* strings point into the blocks: never adc_user_done them */
    size_t n, cap;
    struct adc_cloud_block *blocks;
    const char *last_provider; /* interning: the provider string of the previous user */
};

void adc_cloud_users_init(struct adc_cloud_users *c);
void adc_cloud_users_done(struct adc_cloud_users *c);
/* Makes room for `n` users in all (an exact size avoids the slack of doubling). -ENOMEM. */
int adc_cloud_users_reserve(struct adc_cloud_users *c, size_t n);
/* Appends a zeroed user, or NULL when out of memory; valid until the next append. */
struct adc_user *adc_cloud_users_append(struct adc_cloud_users *c);
/* Copies s[0..len) into the blocks (NUL-terminated). NULL when out of memory. The signature
 * is adc_strdup_fn's, with the list as context. */
char *adc_cloud_users_strdup(void *c, const char *s, size_t len);
/* After a user's strings were copied (the provider last): when its provider equals the
 * previous user's, gives the copy back to the block and shares the earlier string. */
void adc_cloud_users_intern_provider(struct adc_cloud_users *c, struct adc_user *u);
