# The one pinned guest kernel of the real-kernel suite (sourced by the scripts beside it).
# Debian 12's 6.12 backport: the version whose modules.alias the fixtures hold.
KERNEL_RELEASE=6.12.117+deb12-amd64
KERNEL_PACKAGE_VERSION=6.12.117-1~deb12u1
