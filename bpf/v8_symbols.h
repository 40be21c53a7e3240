/*
 * v8_symbols.h — which of V8's post-mortem metadata symbols (`v8dbg_` + the name) fill which
 * field of struct lsc_v8_layout: read from the target's memory by bpf/v8_meta.c (attach), from
 * the process itself by agent/node_names.c (run). Every symbol is a 4-byte int.
 */
#ifndef LSC_BPF_V8_SYMBOLS_H
#define LSC_BPF_V8_SYMBOLS_H

#include "v8.h"

#define OFF(f) offsetof(struct lsc_v8_layout, f)

/* Every symbol is a 4-byte int; each goes to one field of the layout. */
static const struct {
	const char *sym;
	size_t off;
} lsc_v8_meta[] = {
	{"off_fp_function", OFF(fp_function)},
	{"off_fp_context", OFF(fp_context)},
	{"off_fp_bytecode_array", OFF(fp_bytecode_array)},
	{"off_fp_bytecode_offset", OFF(fp_bytecode_offset)},
	{"HeapObjectTag", OFF(tag)},
	{"HeapObjectTagMask", OFF(tag_mask)},
	{"SmiShiftSize", OFF(smi_shift)},
	{"class_HeapObject__map__Map", OFF(map)},
	{"class_Map__instance_type__uint16_t", OFF(map_instance_type)},
	{"class_JSFunction__shared__SharedFunctionInfo", OFF(fn_shared)},
	{"class_SharedFunctionInfo__name_or_scope_info__Object", OFF(sfi_name_or_scope_info)},
	{"class_SharedFunctionInfo__script_or_debug_info__HeapObject",
	 OFF(sfi_script_or_debug_info)},
	{"class_Script__name__Object", OFF(script_name)},
	{"class_Script__source__Object", OFF(script_source)},
	{"class_Script__line_ends__Object", OFF(script_line_ends)},
	{"class_String__length__int32_t", OFF(string_length)},
	{"class_SeqOneByteString__chars__char", OFF(seq_one_byte_chars)},
	{"class_ConsString__first__String", OFF(cons_first)},
	{"class_ConsString__second__String", OFF(cons_second)},
	{"class_ThinString__actual__String", OFF(thin_actual)},
	{"class_FixedArrayBase__length__SMI", OFF(fixed_array_length)},
	{"class_FixedArray__data__uintptr_t", OFF(fixed_array_data)},
	{"scopeinfo_idx_first_vars", OFF(scope_first_vars)},
	{"scopeinfo_idx_ncontextlocals", OFF(scope_ncontextlocals)},
	{"type_SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE", OFF(t_sfi)},
	{"type_ScopeInfo__SCOPE_INFO_TYPE", OFF(t_scope_info)},
	{"type_Script__SCRIPT_TYPE", OFF(t_script)},
	{"type_FixedArray__FIXED_ARRAY_TYPE", OFF(t_fixed_array)},
	{"FirstNonstringType", OFF(first_nonstring)},
	{"StringRepresentationMask", OFF(repr_mask)},
	{"StringEncodingMask", OFF(enc_mask)},
	{"SeqStringTag", OFF(seq_tag)},
	{"ConsStringTag", OFF(cons_tag)},
	{"ThinStringTag", OFF(thin_tag)},
	{"OneByteStringTag", OFF(one_byte_tag)},
};
#undef OFF
#define LSC_V8_NMETA (sizeof(lsc_v8_meta) / sizeof(lsc_v8_meta[0]))

#endif
