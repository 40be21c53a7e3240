/*
 * v8.h — naming the JavaScript frames of a Node.js process from outside it, with no flag: V8's
 * own objects read through its post-mortem metadata (v8_meta.c) and resolved to a function, its
 * script and its line (v8_names.c). Used by `attach`.
 *
 * What it relies on, and where each piece comes from:
 *  - The node binary carries V8's post-mortem metadata: `v8dbg_*` symbols whose values are the
 *    layouts (gen-postmortem-metadata.py in V8's build). Some are in .data, some in .bss set by
 *    a static initializer, so every value is read from the target's memory (at the symbol's
 *    address plus the load bias), never from the file.
 *  - A JavaScript frame (interpreted, Sparkplug, Maglev, TurboFan) keeps a frame pointer; below
 *    it: the context at fp + off_fp_context (a tagged pointer; a typed frame has a Smi marker
 *    there instead) and the JSFunction at fp + off_fp_function. An interpreted frame holds its
 *    BytecodeArray and bytecode offset (a Smi) at off_fp_bytecode_array / _offset.
 *  - Tagged values: a heap object pointer has HeapObjectTag (1) in its low bits under
 *    HeapObjectTagMask (3); a Smi has 0 in the low bit and its value in the high 32 bits
 *    (SmiShiftSize + 1; Node 20 on x86-64 has no pointer compression, tagged values are 8 bytes).
 *  - Every heap object starts with its Map (HeapObject::map); the Map's instance_type says what
 *    the object is. JSFunction::shared is the SharedFunctionInfo (SFI): the function's identity
 *    across tiers and closures. SFIs are allocated in old space: a scavenge never moves them, a
 *    compacting mark-compact may. So the BPF side reads, with the SFI's address, two of its
 *    words (name_or_scope_info, script_or_debug_info): the SFI is resolved later only if the
 *    object at that address still holds both (else it moved, and the frame stays unnamed).
 *  - SFI::name_or_scope_info: the name (a String) or a ScopeInfo holding it; the ScopeInfo also
 *    holds the function's start and end positions. Its layout has no metadata (Torque, with
 *    optional fields): after its fixed slots (scopeinfo_idx_first_vars) come two slots per
 *    context local (scopeinfo_idx_ncontextlocals says how many), then the optional fields, of
 *    which the first String is the function's name and the first two Smis in increasing order
 *    its start and end positions. A position not inside the script's source is not used.
 *  - SFI::script_or_debug_info: the Script (or a DebugInfo, when a debugger touched it: then no
 *    script). Script::name is its file name or URL; Script::line_ends a FixedArray of Smis when
 *    V8 computed it, else the lines are counted from Script::source when that is a sequential
 *    or cons one-byte string (Node's own modules are external strings: no line).
 *  - Strings: sequential one-byte (chars at SeqOneByteString::chars), cons (first, second) and
 *    thin (actual), told apart by the instance type's representation and encoding bits.
 *
 * Where a symbol is missing (another V8, a stripped binary), lsc_v8_open says which, and no
 * frame is named from V8's objects.
 */
#ifndef LSC_BPF_V8_H
#define LSC_BPF_V8_H

#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

struct lsc_v8_layout {
	int32_t fp_function, fp_context, fp_bytecode_array, fp_bytecode_offset;
	uint32_t tag, tag_mask, smi_shift;
	uint32_t map, map_instance_type;
	uint32_t fn_shared;
	uint32_t sfi_name_or_scope_info, sfi_script_or_debug_info;
	uint32_t script_name, script_source, script_line_ends;
	uint32_t string_length, seq_one_byte_chars, cons_first, cons_second, thin_actual;
	uint32_t fixed_array_length, fixed_array_data;
	uint32_t scope_first_vars, scope_ncontextlocals;
	uint32_t t_sfi, t_scope_info, t_script, t_fixed_array;
	uint32_t first_nonstring, repr_mask, enc_mask, seq_tag, cons_tag, thin_tag, one_byte_tag;
};

struct lsc_v8;

/* The metadata of the node binary mapped in pid (its ELF open in elf, loaded at bias). NULL
 * when it cannot be used, with why (the first missing symbols, or the read that failed). */
struct lsc_v8 *lsc_v8_open(int pid, Elf *elf, uint64_t bias, char *why, size_t whylen);
void lsc_v8_close(struct lsc_v8 *v);
const struct lsc_v8_layout *lsc_v8_layout(const struct lsc_v8 *v);

/* Whether ip is code V8 generated: 1 in an anonymous executable mapping (JIT code), 2 in the
 * binary's embedded builtins, where they are or where V8 copied them (the interpreter's entry
 * and bytecode handlers run JS frames); 0 neither. */
int lsc_v8_is_js_ip(struct lsc_v8 *v, uint64_t ip);

struct lsc_v8_fn {
	char name[256];	  /* "(anonymous)" for a function without one */
	char script[512]; /* "" when it has none */
	uint32_t line;	  /* of the function's start, 1-based; 0 unknown */
	int native;	  /* no Script: one of V8's builtins with JS linkage (RegExp.prototype.test,
			     Array.prototype.forEach), named by its code's symbol instead */
};

/* The function whose SharedFunctionInfo is the tagged pointer sfi, if the object there still
 * holds what it held when sampled (print: LSCB_SFI_PRINT of its name_or_scope_info and
 * script_or_debug_info words): 0; -1 when sfi is not an SFI, -2 when it is no longer the one
 * sampled (a compacting GC moved it). Cached by (address, print). */
int lsc_v8_resolve(struct lsc_v8 *v, uint64_t sfi, uint64_t print, const struct lsc_v8_fn **out);
/* The cache emptied (it fills up over a long run). */
void lsc_v8_forget(struct lsc_v8 *v);

/* Reads len bytes of the target at addr (process_vm_readv); 0 or -1. */
int lsc_v8_read(struct lsc_v8 *v, uint64_t addr, void *buf, size_t len);

/* Unit-testable without a target: the line of a 0-based source position, from line ends. */
uint32_t lsc_v8_line_of(const uint32_t *ends, size_t n, uint32_t pos);

#endif
