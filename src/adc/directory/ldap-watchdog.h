/* The TLS handshake watchdog of ldap-conn.c (see ldap-watchdog.c): a connection being set up is
 * registered with its deadline, and one background thread shuts its socket down when the
 * deadline passes, since libldap's handshake loop ignores the network timeout. Internal to
 * src/adc/directory. */
#pragma once

#include <ldap.h>
#include <stdbool.h>

struct adc_ldap_watch {
    LDAP *ld;
    int fd; /* learned from the connect callback; -1 until then */
    double deadline;
    bool fired;
    struct adc_ldap_watch *next;
};

/* Registers ld (set up with adc_ldap_watch_callbacks) until adc_ldap_watch_disarm; w stays the
 * caller's (on its stack) and must be disarmed before it goes. */
void adc_ldap_watch_arm(struct adc_ldap_watch *w, LDAP *ld, double deadline);
/* Unregisters w. Returns whether the watchdog cut the connection (then: a timeout). */
bool adc_ldap_watch_disarm(struct adc_ldap_watch *w);

/* LDAP_OPT_CONNECT_CB for a handle that is watched: tells the watchdog its socket, and bounds
 * reads (SO_RCVTIMEO) and incoming messages (ADC_LDAP_MESSAGE_MAX). Static storage: libldap
 * keeps the pointer for the life of the handle. */
extern const struct ldap_conncb adc_ldap_watch_callbacks;
