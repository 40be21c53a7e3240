/* lsc_error.c — names and messages for loopscope's error codes (lsc_error.h), and errnos. */
#include "lsc_error.h"

#include <string.h>

const char *lsc_strerror(int err)
{
	switch (err) {
#define LSC__X(name, msg)                                                                          \
	case LSC_E##name:                                                                          \
		return msg;
		LSC_ERRNO_MAP(LSC__X)
#undef LSC__X
	}
	return strerror(err < 0 ? -err : err);
}

const char *lsc_err_name(int err)
{
	switch (err) {
#define LSC__X(name, msg)                                                                          \
	case LSC_E##name:                                                                          \
		return "LSC_E" #name;
		LSC_ERRNO_MAP(LSC__X)
#undef LSC__X
	}
	return "errno";
}
