/*
 * warm/safetensors.h — validated safetensors reader (mmap) and atomic writer.
 *
 * Format and validation rules: ../shared/docs/formats.md §1. The reader enforces every rule listed there
 * (header size, strict JSON via cJSON, known dtypes, shape x bits = byte span with overflow checks, tensors
 * tiling the data buffer exactly with no gaps/overlap/trailing bytes, unique names) and names the file and
 * tensor in each error. Values are not checked (NaN/Inf are legal).
 *
 * The writer lays out a file whose tensors are stored as F32, F16 or BF16 (converted from float input) or
 * any other whole-byte dtype (written raw), header padded with spaces to a multiple of 8, tensors ordered
 * by descending element size then name so every tensor is aligned; it writes to "<path>.tmp.<pid>",
 * fsyncs, then renames over <path>. Until commit, nothing at <path> changes; abort removes the temp file.
 */
#ifndef WARM_SAFETENSORS_H
#define WARM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "warm/core.h"

typedef enum {
    WARM_DTYPE_BOOL, WARM_DTYPE_U8, WARM_DTYPE_I8, WARM_DTYPE_F8_E5M2, WARM_DTYPE_F8_E4M3,
    WARM_DTYPE_F8_E8M0, WARM_DTYPE_F8_E4M3FNUZ, WARM_DTYPE_F8_E5M2FNUZ,
    WARM_DTYPE_I16, WARM_DTYPE_U16, WARM_DTYPE_F16, WARM_DTYPE_BF16,
    WARM_DTYPE_I32, WARM_DTYPE_U32, WARM_DTYPE_F32,
    WARM_DTYPE_I64, WARM_DTYPE_U64, WARM_DTYPE_F64, WARM_DTYPE_C64,
    WARM_DTYPE_F4, WARM_DTYPE_F6_E2M3, WARM_DTYPE_F6_E3M2,
    WARM_DTYPE_COUNT
} warm_dtype;

const char *warm_dtype_name(warm_dtype d);              /* "F32", ... */
int warm_dtype_from_name(const char *s, warm_dtype *out); /* 0 on success, -1 unknown */
int warm_dtype_bits(warm_dtype d);                      /* 4, 6, 8, 16, 32, 64 */

/* Scalar conversions. F32->BF16/F16 round to nearest even; NaN stays NaN; F16 overflow gives Inf. */
uint16_t warm_f32_to_bf16(float x);
float warm_bf16_to_f32(uint16_t h);
uint16_t warm_f32_to_f16(float x);
float warm_f16_to_f32(uint16_t h);

#define WARM_ST_MAX_DIMS 8
#define WARM_ST_MAX_HEADER 100000000ull

typedef struct {
    char *name;
    warm_dtype dtype;
    int ndim;
    int64_t shape[WARM_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;      /* offsets relative to the data buffer */
    const uint8_t *data;      /* points into the mapping: data buffer + begin (may be unaligned) */
} warm_st_tensor;

typedef struct {
    char *path;
    uint8_t *map;             /* whole file, read-only mapping (NULL for an empty data buffer) */
    size_t size;
    uint64_t header_len;
    int n_tensors;
    warm_st_tensor *tensors;  /* in header order */
    int n_meta;
    char **meta_keys, **meta_vals;
} warm_st_file;

/* Opens, maps and validates path. On failure f is left closed and err names the file and the fault. */
warm_status warm_st_open(warm_st_file *f, const char *path, warm_error *err);
void warm_st_close(warm_st_file *f);
const warm_st_tensor *warm_st_find(const warm_st_file *f, const char *name);
const char *warm_st_meta(const warm_st_file *f, const char *key); /* NULL if absent */

/* Converts a F32/F16/BF16 tensor to float (out has t->numel elements); other dtypes -> WARM_ERR_FORMAT
 * naming the tensor. Handles unaligned data by copying. */
warm_status warm_st_to_f32(const warm_st_file *f, const warm_st_tensor *t, float *out, warm_error *err);
/* Same for a range of elements [first, first+count) (streaming readers). */
warm_status warm_st_to_f32_range(const warm_st_file *f, const warm_st_tensor *t, uint64_t first, uint64_t count,
                                 float *out, warm_error *err);

/* ---- writer ---- */

typedef struct {
    const char *name;
    warm_dtype dtype;        /* F32, F16, BF16 (put: converted from float); any whole-byte dtype via put_raw */
    int ndim;
    int64_t shape[WARM_ST_MAX_DIMS];
} warm_st_spec;

typedef struct warm_st_writer warm_st_writer;

/* Plans the layout of n tensors plus metadata (n_meta key/value string pairs; "format":"pt" is always
 * written first, and a caller pair "format":"pt" is folded into it, any other "format" value is an error)
 * and creates the temp file at full size. Names and metadata keys must be unique, valid UTF-8, and no
 * tensor may be called "__metadata__"; sub-byte dtypes (F4, F6_*) are rejected. Names and shapes are
 * copied, so specs need not outlive the call. On failure *w is NULL and nothing is left on disk. */
warm_status warm_st_writer_open(warm_st_writer **w, const char *path, const warm_st_spec *specs, int n,
                                const char *const *meta_keys, const char *const *meta_vals, int n_meta,
                                warm_error *err);
/* Writes tensor i (index into specs) from float data (numel elements), converting to its dtype. Any order.
 * A failed put leaves the writer open: the caller should then abort it. */
warm_status warm_st_writer_put(warm_st_writer *w, int i, const float *data, warm_error *err);
/* Writes a range [first, first+count) of tensor i's elements (streaming writers). */
warm_status warm_st_writer_put_range(warm_st_writer *w, int i, uint64_t first, uint64_t count, const float *data,
                                     warm_error *err);
/* Writes tensor i from raw bytes already in its dtype (for I32/I64 or pre-converted data). */
warm_status warm_st_writer_put_raw(warm_st_writer *w, int i, const void *bytes, warm_error *err);
/* Checks every element of every tensor was written, fsyncs, renames into place, fsyncs the directory.
 * Always frees w; on any failure before the rename the temp file is removed and <path> is untouched. */
warm_status warm_st_writer_commit(warm_st_writer *w, warm_error *err);
/* Removes the temp file and frees w (safe with NULL). */
void warm_st_writer_abort(warm_st_writer *w);

/* Convenience: writes n float tensors in one call (atomic). data[i] has the spec's numel elements. */
warm_status warm_st_write(const char *path, const warm_st_spec *specs, const float *const *data, int n,
                          const char *const *meta_keys, const char *const *meta_vals, int n_meta, warm_error *err);

#endif
