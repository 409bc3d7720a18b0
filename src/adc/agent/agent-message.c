/* Parsing of what adc-server sends the agent: see agent-message.h. */
#include "agent/agent-message.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"

/* A string member, or NULL when absent, of another type, or holding a NUL (which would cut the
 * C string: a password or an id other than the one sent). */
static const char *string_member(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    if (s && strlen(s) != json_string_length(v))
        return NULL;
    return s;
}

int adc_agent_command_parse(const json_t *cmd, struct adc_agent_command *out, const char **why) {
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (!json_is_object(cmd)) {
        *why = "the command is not an object";
        return -EINVAL;
    }
    const char *id = string_member(cmd, ADC_WIRE_ID);
    const char *type = string_member(cmd, ADC_WIRE_TYPE);
    if (type && !strcmp(type, ADC_CMD_CHECK_PASSWORD))
        out->type = ADC_AGENT_CMD_CHECK_PASSWORD;
    else if (type && !strcmp(type, ADC_CMD_SYNC))
        out->type = ADC_AGENT_CMD_SYNC;
    /* Ids go into URL paths: anything else is refused before it is used. */
    if (!adc_wire_id_valid(id)) {
        *why = "the command has no valid id";
        return -EINVAL;
    }
    out->id = id;
    switch (out->type) {
    case ADC_AGENT_CMD_CHECK_PASSWORD:
        out->username = string_member(cmd, ADC_WIRE_USERNAME);
        out->password = string_member(cmd, ADC_WIRE_PASSWORD);
        if (!out->username || !out->password) {
            out->username = out->password = NULL;
            *why = "malformed check_password command";
            return -EINVAL;
        }
        return 0;
    case ADC_AGENT_CMD_SYNC:
        out->run_id = string_member(cmd, ADC_WIRE_RUN_ID);
        if (!adc_wire_id_valid(out->run_id)) {
            out->run_id = NULL;
            *why = "sync command without a valid run_id";
            return -EINVAL;
        }
        out->dry_run = json_is_true(json_object_get(cmd, ADC_WIRE_DRY_RUN));
        return 0;
    case ADC_AGENT_CMD_UNKNOWN: break;
    }
    *why = "unknown command type";
    return -EINVAL;
}

int adc_agent_connect_answer_parse(const json_t *body, char **agent_id, int *poll_wait) {
    *agent_id = NULL;
    *poll_wait = ADC_AGENT_DEFAULT_POLL_WAIT;
    const char *id = string_member(body, ADC_WIRE_AGENT_ID);
    if (!adc_wire_id_valid(id))
        return -EINVAL;
    json_t *w = json_object_get(body, ADC_WIRE_POLL_WAIT);
    if (json_is_integer(w) && json_integer_value(w) > 0 && json_integer_value(w) <= 300)
        *poll_wait = (int)json_integer_value(w);
    *agent_id = strdup(id);
    return *agent_id ? 0 : -ENOMEM;
}
