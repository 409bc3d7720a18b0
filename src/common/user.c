#include "common/user.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

void adc_user_done(struct adc_user *u) {
    if (!u)
        return;
    if (u->packed) {
        free(u->user_name); /* the block; NULL when its owner took it */
        memset(u, 0, sizeof(*u));
        return;
    }
    free(u->user_name);
    free(u->external_id);
    free(u->display_name);
    free(u->given_name);
    free(u->family_name);
    free(u->email);
    free(u->other_emails);
    free(u->dn);
    free(u->id);
    free(u->provider);
    free(u->version);
    memset(u, 0, sizeof(*u));
}

int adc_user_pack(struct adc_user *u) {
    char **fields[] = {&u->user_name,   &u->external_id, &u->display_name, &u->given_name,
                       &u->family_name, &u->email,       &u->other_emails, &u->dn,
                       &u->id,          &u->provider,    &u->version};
    size_t size = 0;
    if (u->packed || !u->user_name)
        return 0;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (*fields[i])
            size += strlen(*fields[i]) + 1;
    char *block = malloc(size), *p = block;
    if (!block)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!*fields[i])
            continue;
        size_t len = strlen(*fields[i]) + 1;
        memcpy(p, *fields[i], len);
        free(*fields[i]);
        *fields[i] = p; /* user_name first: the block starts with it */
        p += len;
    }
    u->packed = true;
    return 0;
}

void adc_user_list_init(struct adc_user_list *l) { memset(l, 0, sizeof(*l)); }

void adc_user_list_done(struct adc_user_list *l) {
    for (size_t i = 0; i < l->n; i++)
        adc_user_done(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

struct adc_user *adc_user_list_append(struct adc_user_list *l) {
    if (adc_grow_array(l->items, l->cap, l->n, 64) < 0)
        return NULL;
    struct adc_user *u = &l->items[l->n++];
    memset(u, 0, sizeof(*u));
    return u;
}
