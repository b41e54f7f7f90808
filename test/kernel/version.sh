# The guest kernels of the real-kernel suite (sourced by the scripts beside it). The kernel is
# chosen by FLAVOURCTL_KERNEL (a series: 6.12, the default, or 7.2); each series pins one
# Debian package version, so every run boots the same kernel.
#
#   KERNEL_SERIES           6.12 | 7.2
#   KERNEL_RELEASE          `uname -r` in the guest
#   KERNEL_PACKAGE_VERSION  the Debian version of its packages
#   KERNEL_SUITE            where the packages come from: bookworm (this machine's apt) or sid
#                           (test/support/sid-download.sh)
#   KERNEL_PACKAGES         the packages fetch.sh unpacks into one root
#   KERNEL_CACHE            the cache directory of this kernel (root/, debs/), under FLAVOURCTL_CACHE
KERNEL_SERIES=${FLAVOURCTL_KERNEL:-6.12}
case $KERNEL_SERIES in
6.12)
  # Debian 12's 6.12 backport: the version whose modules.alias the fixtures hold.
  KERNEL_RELEASE=6.12.117+deb12-amd64
  KERNEL_PACKAGE_VERSION=6.12.117-1~deb12u1
  KERNEL_SUITE=bookworm
  KERNEL_PACKAGES=(
    "linux-image-$KERNEL_RELEASE"
    "linux-headers-$KERNEL_RELEASE"
    "linux-headers-${KERNEL_RELEASE%-amd64}-common"
    "linux-kbuild-${KERNEL_RELEASE%-amd64}"
  )
  KERNEL_CACHE=kernel
  ;;
7.2)
  # Debian sid's (development branch) newest kernel on the mirror. linux-image-VER is only a
  # meta package from 7.x: the kernel is split into linux-base (config, modules.order,
  # modules.builtin*), linux-binary (vmlinuz) and linux-modules (.ko.xz), all under
  # /usr/lib/modules/VER.
  KERNEL_RELEASE=7.2.13+deb14-amd64
  KERNEL_PACKAGE_VERSION=7.2.13-1
  KERNEL_SUITE=sid
  KERNEL_PACKAGES=(
    "linux-base-$KERNEL_RELEASE"
    "linux-binary-$KERNEL_RELEASE"
    "linux-modules-$KERNEL_RELEASE"
    "linux-headers-$KERNEL_RELEASE"
    "linux-headers-${KERNEL_RELEASE%-amd64}-common"
    "linux-kbuild-${KERNEL_RELEASE%-amd64}"
  )
  KERNEL_CACHE=kernel72
  ;;
*)
  echo "test/kernel: FLAVOURCTL_KERNEL='$KERNEL_SERIES' is not a kernel of the suite (6.12 or 7.2)" >&2
  exit 64
  ;;
esac
# The series the suite runs in CI, one after the other (run.sh --all).
KERNEL_ALL_SERIES=(6.12 7.2)
