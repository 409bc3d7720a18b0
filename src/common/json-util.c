#include "common/json-util.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"

int adc_json_depth(const char *buf, size_t len, int max_depth) {
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_string = false;
            continue;
        }
        switch (c) {
        case '"': in_string = true; break;
        case '{':
        case '[':
            if (++depth > max_depth)
                return -1;
            if (depth > deepest)
                deepest = depth;
            break;
        case '}':
        case ']':
            if (depth > 0)
                depth--;
            break;
        default: break;
        }
    }
    return deepest;
}

json_t *adc_json_parse(const char *buf, size_t len, int max_depth, char *err, size_t err_size) {
    if (adc_json_depth(buf, len, max_depth) < 0) {
        snprintf(err, err_size, "JSON nested deeper than %d levels", max_depth);
        return NULL;
    }
    json_error_t je;
    /* JSON_DECODE_ANY: callers check the type and say what they expected. */
    json_t *j = json_loadb(buf, len, JSON_DECODE_ANY, &je);
    if (!j)
        snprintf(err, err_size, "invalid JSON at line %d, column %d: %s", je.line, je.column,
                 je.text);
    return j;
}

int adc_json_append_string(struct adc_buf *b, const char *s) {
    if (!s)
        return adc_buf_append(b, "null", 4);
    return adc_json_append_stringn(b, s, strlen(s));
}

int adc_json_append_stringn(struct adc_buf *b, const char *s, size_t n) {
    adc_buf_append(b, "\"", 1);
    const char *run = s, *end = s + n;
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        adc_buf_append(b, run, s - run);
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            adc_buf_append(b, esc, 2);
        } else {
            adc_buf_printf(b, "\\u%04x", c);
        }
        run = s + 1;
    }
    adc_buf_append(b, run, s - run);
    return adc_buf_append(b, "\"", 1);
}
