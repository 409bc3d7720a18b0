/* Positions in adc.yaml for its diagnostics: a node's line:col, the column of a byte inside a
 * scalar's value (quoting and escapes make the source longer than the value), and libyaml's
 * syntax errors with the position they name. */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config-diag.h"
#include "config/config-schema.h"

struct pos adc_yaml_node_pos(const yaml_node_t *n) {
    return (struct pos){(unsigned)n->start_mark.line + 1, (unsigned)n->start_mark.column + 1};
}

/* Byte offset in the source where (0-based) line `line`, character `column` starts. libyaml
 * counts characters, not bytes, and treats \r\n and lone \r as one line break. */
static size_t text_offset(const char *src, size_t src_len, size_t line, size_t column) {
    size_t i = 0;
    while (line > 0 && i < src_len) {
        if (src[i] == '\r') {
            line--;
            i += (i + 1 < src_len && src[i + 1] == '\n') ? 2 : 1;
        } else if (src[i] == '\n') {
            line--;
            i++;
        } else {
            i++;
        }
    }
    while (column > 0 && i < src_len) {
        i++;
        while (i < src_len && ((unsigned char)src[i] & 0xC0) == 0x80)
            i++;
        column--;
    }
    return i;
}

static size_t src_offset(const struct walk *w, size_t line, size_t column) {
    return text_offset(w->src, w->src_len, line, column);
}

/* The position of byte `offset` of a scalar's value, for errors inside a filter. Quoting and
 * escapes make the source longer than the value; a value that spans lines gets the position
 * of its start (good enough: nobody folds a filter they expect to read in an error). */
struct pos adc_yaml_value_offset_pos(const struct walk *w, const yaml_node_t *n, size_t offset) {
    struct pos start = adc_yaml_node_pos(n);
    struct pos p = start;
    size_t i = src_offset(w, n->start_mark.line, n->start_mark.column);
    yaml_scalar_style_t style = n->data.scalar.style;
    size_t v = 0; /* bytes of the value consumed */

    if (style == YAML_SINGLE_QUOTED_SCALAR_STYLE || style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
        i++;
        p.col++;
    } else if (style != YAML_PLAIN_SCALAR_STYLE) {
        return start; /* block scalars: the value starts on a later line */
    }
    while (v < offset) {
        if (i >= w->src_len || w->src[i] == '\n' || w->src[i] == '\r')
            return start;
        unsigned char c = (unsigned char)w->src[i];
        size_t raw = 1, produced = 1;
        if (style == YAML_SINGLE_QUOTED_SCALAR_STYLE && c == '\'' && i + 1 < w->src_len &&
            w->src[i + 1] == '\'') {
            raw = 2;
        } else if (style == YAML_DOUBLE_QUOTED_SCALAR_STYLE && c == '\\' && i + 1 < w->src_len) {
            char e = w->src[i + 1];
            raw = e == 'x' ? 4 : e == 'u' ? 6 : e == 'U' ? 10 : 2;
            if (raw > 2) {
                /* the code point, as UTF-8, is how many bytes of the value? */
                char hex[9] = {0};
                memcpy(hex, w->src + i + 2, raw - 2 <= w->src_len - i - 2 ? raw - 2 : 0);
                unsigned long cp = strtoul(hex, NULL, 16);
                produced = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            } else if (e == 'N' || e == '_') {
                produced = 2; /* U+0085, U+00A0 */
            } else if (e == 'L' || e == 'P') {
                produced = 3; /* U+2028, U+2029 */
            }
        } else if (c >= 0x80) {
            /* one character: all its bytes belong to the value and to one column */
            while (i + raw < w->src_len && ((unsigned char)w->src[i + raw] & 0xC0) == 0x80)
                raw++;
            produced = raw;
            if (v + produced > offset)
                break;
            i += raw;
            v += produced;
            p.col++;
            continue;
        }
        i += raw;
        v += produced;
        p.col += (unsigned)raw;
    }
    return p;
}

/* libyaml's reader reports a byte offset instead of a mark. */
static struct pos pos_of_offset(const char *src, size_t len, size_t offset) {
    struct pos p = {1, 1};
    for (size_t i = 0; i < offset && i < len; i++) {
        if (src[i] == '\n')
            p.line++, p.col = 1;
        else if (((unsigned char)src[i] & 0xC0) != 0x80)
            p.col++;
    }
    return p;
}

void adc_yaml_report_syntax(struct adc_diag *d, yaml_parser_t *parser, const char *src,
                            size_t len) {
    struct pos p;
    if (parser->error == YAML_READER_ERROR)
        p = pos_of_offset(src, len, parser->problem_offset);
    else
        p = (struct pos){(unsigned)parser->problem_mark.line + 1,
                         (unsigned)parser->problem_mark.column + 1};
    const char *problem = parser->problem ? parser->problem : "cannot parse";
    size_t at = text_offset(src, len, parser->problem_mark.line, parser->problem_mark.column);
    if (parser->error == YAML_SCANNER_ERROR && at < len && src[at] == '\t')
        /* The most common YAML mistake, and libyaml's message does not name it. */
        adc_diag_error(d, p.line, p.col, "YAML syntax error: a tab; indent with spaces");
    else if (parser->context)
        adc_diag_error(d, p.line, p.col, "YAML syntax error: %s (%s on line %zu)", problem,
                       parser->context, parser->context_mark.line + 1);
    else
        adc_diag_error(d, p.line, p.col, "YAML syntax error: %s", problem);
}
