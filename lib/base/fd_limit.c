/* fd_limit.h: RLIMIT_NOFILE and /proc/self/fd. */
#include "base/fd_limit.h"

#include <dirent.h>
#include <stddef.h>
#include <sys/resource.h>

long
fd_limit_raise(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) != 0)
		return -1;
	if (r.rlim_cur < r.rlim_max) {
		rlim_t wanted = r.rlim_max;
		r.rlim_cur    = wanted;
		if (setrlimit(RLIMIT_NOFILE, &r) != 0 || getrlimit(RLIMIT_NOFILE, &r) != 0)
			return -1;
	}
	return r.rlim_cur == RLIM_INFINITY ? -1 : (long) r.rlim_cur;
}

long
fd_limit_headroom(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
		return -1;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	long open = -1; /* the directory's own descriptor */
	while (readdir(d) != NULL)
		open++;
	closedir(d);
	open -= 2; /* "." and ".." */
	return (long) r.rlim_cur - open;
}
