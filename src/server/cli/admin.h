/* The `admin` command of adc-server (cli/admin.c). */
#pragma once

/* `adc-server --db FILE admin create|password|delete|list ...`; returns the exit status. */
int adc_admin_command(const char *db_path, int argc, char **argv);
