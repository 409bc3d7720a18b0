/* The `init` and `token` commands of adc-server (cli/token.c). Both return the exit status. */
#pragma once

/* Creates the database and prints the first System Administrator token on stdout. */
int adc_cli_init(const char *db_path, int argc, char **argv);
/* token create --name NAME | token list | token revoke --name NAME */
int adc_cli_token(const char *db_path, int argc, char **argv);
