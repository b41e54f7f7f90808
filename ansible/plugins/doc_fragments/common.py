# -*- coding: utf-8 -*-
# Copyright: flavourctl developers
# GNU General Public License v2.0 only (see COPYING or https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options every module of the collection takes: which flavourctl, which machine.
    DOCUMENTATION = r"""
options:
  flavourctl_path:
    description:
      - The flavourctl command on the target host.
      - A name is looked up on the target's C(PATH) (and the usual sbin directories); a path
        is used as it is.
    type: str
    default: flavourctl
  machine:
    description:
      - A simulated machine instead of the host's own C(/sys), as C(flavourctl --machine)
        takes it, so that a playbook can be tried anywhere.
      - A bundled machine (C(demo), C(thread)), a machine JSON file on the target, or
        C(snapshot:DIR,modules=DIR).
      - A simulated machine's state, rules and lock live in the target's
        C($XDG_STATE_HOME/flavourctl/machines/) (default C(~/.local/state)).
    type: str
  config:
    description:
      - The rules directory (C(flavourctl --config DIR)).
      - Default C(/etc/flavourctl/rules.d), or the simulated machine's own.
    type: path
requirements:
  - flavourctl on the target host (Node.js 18.19 or later)
"""
