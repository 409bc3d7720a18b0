/* What `adc run` reads from adc-server on the agent channel: the connect answer
 * (adc_agent_connect_answer_parse) and every command of a poll answer's `commands`
 * (adc_agent_command_parse), parsed with jansson from at most ADC_TRANSPORT_MAX_BODY bytes
 * (flags 0: a superset of what the transport's strict reading lets through), and again with NULs
 * allowed inside strings to exercise the parser's refusal of them. Whatever the bytes: no crash, no
 * leak; every id, run id and agent id that passes is one that is safe in a URL (adc_wire_id_valid);
 * a refused command has a reason and never hands out its password; poll_wait is within 1..300. The
 * whole HTTP path is tested with the real program by tests/integration/test_hostile_server.py. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/transport.h"
#include "cloud/transport.h"
#include "agent/agent-message.h"
#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_command(const json_t *cmd) {
    struct adc_agent_command c;
    const char *why = NULL;
    int r = adc_agent_command_parse(cmd, &c, &why);
    if (c.id && !adc_wire_id_valid(c.id))
        __builtin_trap();
    if (r < 0) {
        if (r != -EINVAL || !why || c.password || c.username || c.run_id)
            __builtin_trap();
        return;
    }
    if (r != 0 || why || !c.id)
        __builtin_trap();
    switch (c.type) {
    case ADC_AGENT_CMD_CHECK_PASSWORD:
        if (!c.username || !c.password || c.run_id)
            __builtin_trap();
        break;
    case ADC_AGENT_CMD_SYNC:
        if (!adc_wire_id_valid(c.run_id) || c.username || c.password)
            __builtin_trap();
        break;
    default: __builtin_trap();
    }
}

static void check_message(const json_t *j) {
    char *agent_id = (char *)1;
    int wait = -1;
    int r = adc_agent_connect_answer_parse(j, &agent_id, &wait);
    if (r == 0) {
        if (!adc_wire_id_valid(agent_id) || wait < 1 || wait > 300)
            __builtin_trap();
    } else if (r != -EINVAL || agent_id) {
        __builtin_trap();
    }
    free(agent_id);

    /* agent.c walks `commands` with json_array_foreach, which is a no-op on anything else */
    const json_t *cmds = json_object_get(j, "commands");
    size_t i;
    const json_t *cmd;
    json_array_foreach(cmds, i, cmd) check_command(cmd);
    /* a bare command too, so that mutations of one reach the parser without the envelope */
    check_command(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > ADC_TRANSPORT_MAX_BODY)
        return 0;
    const size_t flags[] = {0, JSON_ALLOW_NUL};
    for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
        json_t *j = json_loadb((const char *)data, size, flags[f], NULL);
        if (!j)
            continue;
        check_message(j);
        json_decref(j);
    }
    return 0;
}
