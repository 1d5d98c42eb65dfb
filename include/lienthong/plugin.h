#ifndef LIENTHONG_PLUGIN_H
#define LIENTHONG_PLUGIN_H
/* The transformation plugin SDK: a plain C ABI, so that a plugin built with another
 * compiler (or in C) loads into any lienthongd of the same ABI version.
 *
 * A plugin is a shared library exporting one function:
 *
 *   const lt_plugin_info* lienthong_plugin_v1(void);
 *
 * lienthongd loads the libraries listed under `plugins:` in its config at start, checks
 * abi_version, and registers `name` as a step usable in routes:
 *
 *   steps:
 *     - my-converter: { encoding: tcvn3 }   # settings: a flat map of strings
 *
 * Threads: create() and destroy() run on the control thread; transform() runs on engine
 * workers, possibly on several threads at once with the same instance: an instance must
 * be immutable after create(), or guard its own state. */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LT_PLUGIN_ABI_VERSION 1u
#define LT_PLUGIN_ENTRY "lienthong_plugin_v1"

typedef enum lt_plugin_kind {
  LT_PLUGIN_TRANSFORM = 1 /* body in, body out (plus headers and content type) */
} lt_plugin_kind;

/* transform() results. */
typedef enum lt_result {
  LT_OK = 0,
  LT_INVALID_MESSAGE = 1, /* the input is wrong: dead letter / 400 */
  LT_TRANSIENT = 2,       /* try again later */
  LT_PERMANENT = 3        /* give up on this message */
} lt_result;

typedef struct lt_setting {
  const char* key;
  const char* value;
} lt_setting;

/* Where transform() writes its output. Strings are copied by the callee. */
typedef struct lt_sink {
  void* ctx;
  void (*append_body)(void* ctx, const char* data, size_t size);
  void (*set_content_type)(void* ctx, const char* content_type);
  void (*set_header)(void* ctx, const char* name, const char* value);
} lt_sink;

typedef struct lt_plugin_info {
  uint32_t abi_version; /* LT_PLUGIN_ABI_VERSION */
  const char* name;     /* the step name in routes: [a-z0-9-]+ */
  uint32_t kind;        /* lt_plugin_kind */
  /* Builds an instance from the route's settings. On failure returns NULL and writes a
   * message (NUL-terminated, at most error_size bytes) into error. */
  void* (*create)(const lt_setting* settings, size_t count, char* error, size_t error_size);
  void (*destroy)(void* instance);
  /* Transforms one body. On a result other than LT_OK, writes the reason into error. */
  int (*transform)(void* instance, const char* body, size_t body_size, lt_sink* out, char* error,
                   size_t error_size);
} lt_plugin_info;

typedef const lt_plugin_info* (*lt_plugin_entry)(void);

#ifdef __cplusplus
}
#endif

#endif /* LIENTHONG_PLUGIN_H */
