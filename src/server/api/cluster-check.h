/* Password checks across adc-server instances on one PostgreSQL database (docs/product.md
 * section 12): POST /api/v1/login given to any instance reaches an agent of the user's sync
 * configuration wherever it is connected.
 *
 * The instance that received the sign-in (the origin) asks its own hub when an agent of the
 * configuration is connected to it. Otherwise it picks an instance that holds one (a fresh
 * agent_presence row of an instance alive in cluster_instances), seals the password to that
 * instance's public key (api/seal.h; bound to the check's id, configuration and user name),
 * inserts the check into login_checks and notifies "c<id>". The target takes the row (its box
 * leaves the table in the same statement), opens the box in memory, hands the check to its
 * hub, writes the outcome into the row and notifies "a<id>"; the origin, woken by that
 * notification (or by its own look every half second: a notification lost while PostgreSQL
 * restarts costs that much), reads the answer and deletes the row. The database never holds a
 * password in clear, and holds a sealed one only until it is taken or expires.
 *
 * A check whose agent vanished is tried again within the sign-in's timeout: when the target
 * says its agent left (or it has none), when the target instance stops refreshing its row
 * (killed: ADC_CLUSTER_INSTANCE_TTL_S), or when an agent of the configuration connects to the
 * origin itself (an agent reconnecting through the load balancer). Until the timeout, a check
 * with no agent anywhere waits for one only while an agent of the configuration is still
 * registered somewhere (its instance may have just died); with none at all it is unavailable
 * at once (503), as on one instance. */
#pragma once

#include <stdbool.h>

#include "api/hub.h"

struct adc_server;

/* The password check of POST /api/v1/login, on this instance's hub or another's: as
 * adc_hub_check_password (0 or -ENOMEM; *reason a new string, never the password). */
int adc_cluster_check_password(struct adc_server *srv, const char *app_id, const char *user_name,
                               const char *password, int timeout_ms, enum adc_hub_outcome *outcome,
                               char **reason);

/* The listener's side (api/cluster.c): check id was answered (wakes its waiter here, if any);
 * take the checks sealed to this instance (one id, or all when id is NULL); wake every
 * waiter to look at its row (a lost notification). */
void adc_cluster_check_answered(const char *id);
void adc_cluster_checks_take(struct adc_server *srv, const char *id);
void adc_cluster_checks_wake_all(void);
/* Waits for the checks taken for other instances to end (after the hub stopped). */
void adc_cluster_checks_join(void);
