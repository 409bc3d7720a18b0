/* The wire contract between adc and adc-server, written once for both programs: the SCIM URNs
 * (RFC 7643, RFC 7644 and our provider extension), the API paths, the run statuses, the syntax
 * of the ids that travel in URL paths, and the words of the agent channel's messages
 * (docs/agent-protocol.md). A change here is a change of the protocol: both sides see it at
 * once, and an older peer may still send the previous words. */
#pragma once

#include <stdbool.h>

/* SCIM schemas (RFC 7643 section 8.7, RFC 7644 section 3). */
#define ADC_SCIM_SCHEMA_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define ADC_SCIM_SCHEMA_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
/* Our extension: which sync configuration ("provider", its Application ID) owns a user, or
 * "local" (docs/product.md section 4). */
#define ADC_SCIM_SCHEMA_PROVIDER "urn:adconnect:scim:schemas:extension:sync:2.0:User"
/* Groups (RFC 7643 section 4.2) and our extension of them: the provider, as for users, and the
 * number of members (docs/product.md section 10). */
#define ADC_SCIM_SCHEMA_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define ADC_SCIM_SCHEMA_GROUP_PROVIDER "urn:adconnect:scim:schemas:extension:sync:2.0:Group"
#define ADC_SCIM_SCHEMA_SPC "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
#define ADC_SCIM_SCHEMA_RESOURCE_TYPE "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
#define ADC_SCIM_SCHEMA_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:Schema"
#define ADC_SCIM_SCHEMA_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"
#define ADC_SCIM_SCHEMA_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define ADC_SCIM_SCHEMA_PATCH "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define ADC_SCIM_SCHEMA_BULK_REQUEST "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
#define ADC_SCIM_SCHEMA_BULK_RESPONSE "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

/* SCIM endpoints (RFC 7644 section 3.2). */
#define ADC_WIRE_SCIM_USERS "/scim/v2/Users"
#define ADC_WIRE_SCIM_GROUPS "/scim/v2/Groups"
#define ADC_WIRE_SCIM_BULK "/scim/v2/Bulk"
#define ADC_WIRE_SCIM_SPC "/scim/v2/ServiceProviderConfig"

/* The agent API (docs/agent-protocol.md), authenticated as a sync configuration:
 * GET config (the server-side settings), POST runs and PUT runs/{run_id} (run records),
 * POST connect, GET commands (the long poll) and POST commands/{id}/result, PUT live (the live
 * watcher's state), POST disconnect. */
#define ADC_WIRE_AGENT_CONFIG "/api/v1/agent/config"
#define ADC_WIRE_AGENT_RUNS "/api/v1/agent/runs"
#define ADC_WIRE_AGENT_CONNECT "/api/v1/agent/connect"
#define ADC_WIRE_AGENT_COMMANDS "/api/v1/agent/commands"
#define ADC_WIRE_AGENT_LIVE "/api/v1/agent/live"
#define ADC_WIRE_AGENT_DISCONNECT "/api/v1/agent/disconnect"
/* GET group-members: the members of every group of the configuration, page by page
 * (docs/agent-protocol.md): the answer's list and the cursor of the next page. */
#define ADC_WIRE_AGENT_GROUP_MEMBERS "/api/v1/agent/group-members"
#define ADC_WIRE_AFTER "after"
#define ADC_WIRE_NEXT "next"

/* Members of the agent API's JSON messages (docs/agent-protocol.md), read and written by both
 * programs. SCIM attribute names are not here: RFC 7643 fixes them. */
/* POST connect: the agent's host and version; the answer's agent_id and timings. */
#define ADC_WIRE_HOST "host"
#define ADC_WIRE_VERSION "version"
#define ADC_WIRE_AGENT_ID "agent_id"
#define ADC_WIRE_POLL_WAIT "poll_wait"
#define ADC_WIRE_CONNECTED_TIMEOUT "connected_timeout"
/* GET commands: the answer's list, and the members of each command. */
#define ADC_WIRE_COMMANDS "commands"
#define ADC_WIRE_ID "id"
#define ADC_WIRE_TYPE "type"
#define ADC_WIRE_USERNAME "username"
#define ADC_WIRE_PASSWORD "password"
#define ADC_WIRE_RUN_ID "run_id"
#define ADC_WIRE_DRY_RUN "dry_run"
/* POST commands/{id}/result. */
#define ADC_WIRE_OUTCOME "outcome"
#define ADC_WIRE_REASON "reason"
/* Run records: POST runs (dry_run, source, trigger, agent_id), PUT runs/{run_id} (status,
 * stats, errors, progress) and the record as the server shows it. */
#define ADC_WIRE_SOURCE "source"
#define ADC_WIRE_TRIGGER "trigger"
#define ADC_WIRE_STATUS "status"
#define ADC_WIRE_STATS "stats"
#define ADC_WIRE_ERRORS "errors"
#define ADC_WIRE_PROGRESS "progress"
/* PUT live: the live watcher's state. */
#define ADC_WIRE_WATCH "watch"
#define ADC_WIRE_STATE "state"
#define ADC_WIRE_CHANGES_APPLIED "changes_applied"
#define ADC_WIRE_LAST_CHANGE "last_change"
#define ADC_WIRE_DETAIL "detail"

/* Sources of a run a client creates (POST runs): `adc imp`, or an agent (`adc run`). */
#define ADC_RUN_SOURCE_IMP "imp"
#define ADC_RUN_SOURCE_AGENT "agent"

/* Run statuses (docs/product.md section 6). "queued" is the server's own, before an agent
 * takes the run; an agent reports only the other three. */
#define ADC_RUN_QUEUED "queued"
#define ADC_RUN_RUNNING "running"
#define ADC_RUN_SUCCEEDED "succeeded"
#define ADC_RUN_FAILED "failed"

/* True for a status after which a run never changes again (succeeded, failed). NULL: false. */
bool adc_run_status_finished(const char *status);

/* Command types of a poll answer and outcomes of a password check. */
#define ADC_CMD_CHECK_PASSWORD "check_password"
#define ADC_CMD_SYNC "sync"
#define ADC_OUTCOME_ACCEPTED "accepted"
#define ADC_OUTCOME_DENIED "denied"
#define ADC_OUTCOME_UNAVAILABLE "unavailable"

/* Ids that go into URL paths (command ids, run ids, agent ids): 1..ADC_WIRE_ID_MAX characters of
 * [A-Za-z0-9._-], so that they never need escaping and cannot change the path. NULL: false. */
#define ADC_WIRE_ID_MAX 128
bool adc_wire_id_valid(const char *id);
