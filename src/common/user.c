#include "common/user.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

void adc_user_done(struct adc_user *u) {
    if (!u)
        return;
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
