// COmenSupport is header-only (see include/omen_support.h); SwiftPM needs one source file per C target.
#include "omen_support.h"
