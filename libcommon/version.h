/* version.h — masix's version, said by every program's --version. */
#ifndef MX_VERSION_H
#define MX_VERSION_H

#define MASIX_VERSION	"0.1.0"

#endif
