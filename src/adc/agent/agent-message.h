/* The messages adc reads from adc-server on the agent channel (docs/agent-protocol.md): the
 * connect answer and each command of a poll answer. Pure functions of the parsed JSON, so that
 * they can be unit tested and fuzzed (fuzz/fuzz-agent-messages.c) apart from `adc run`'s loop. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/* Long poll length asked of the server when it does not say; the server may shorten it. */
#define ADC_AGENT_DEFAULT_POLL_WAIT 15

enum adc_agent_command_type {
    ADC_AGENT_CMD_UNKNOWN = 0,
    ADC_AGENT_CMD_CHECK_PASSWORD,
    ADC_AGENT_CMD_SYNC,
};

/* Every string is borrowed from the command's JSON and lives as long as it does. */
struct adc_agent_command {
    enum adc_agent_command_type type;
    const char *id;       /* valid (adc_wire_id_valid), or NULL */
    const char *username; /* check_password */
    const char *password; /* check_password: never log it */
    const char *run_id;   /* sync: valid (adc_wire_id_valid) */
    bool dry_run;         /* sync */
};

/* Reads one command. Returns 0, or -EINVAL with *why set to a static reason that never contains
 * a value of the command. Even then out->id is the command's id when that one is valid (NULL
 * otherwise) and out->type is its type when known, so the caller can answer the command. */
int adc_agent_command_parse(const json_t *cmd, struct adc_agent_command *out, const char **why);

/* Reads the connect answer: agent_id (required, valid as a command id since it goes into the
 * poll URL) and poll_wait (1..300 s, else ADC_AGENT_DEFAULT_POLL_WAIT). Returns 0 with a
 * malloc'ed *agent_id, -EINVAL without a usable agent_id, or -ENOMEM. */
int adc_agent_connect_answer_parse(const json_t *body, char **agent_id, int *poll_wait);
