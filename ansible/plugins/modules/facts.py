#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: flavourctl developers
# GNU General Public License v2.0 only (see COPYING or https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: facts
short_description: Every PCI device of the host, its driver, vfio flavour and IOMMU group, as facts
description:
  - Sets the fact C(flavourctl_devices), the document C(flavourctl list --json) prints, one
    object for each PCI device in bus order. Its keys are documented in flavourctl's manual
    (C(list)), only ever added to, never renamed.
  - Use it for inventory and templates, for example every GPU of a host with
    C(flavourctl_devices | selectattr('class', 'match', '^03')).
  - Reads only and changes nothing. It needs no privileges.
version_added: 0.1.0
author:
  - flavourctl maintainers (!UNKNOWN)
extends_documentation_fragment:
  - flavourctl.vfio.common
options:
  match:
    description:
      - Only the devices a rule with this selector names (C(flavourctl list --match)), for
        example C(id 15b3:101e) or C(vfs-of 0000:01:00.0).
    type: str
attributes:
  check_mode:
    description: Reads the devices as it always does; it never changes anything.
    support: full
  diff_mode:
    description: Reads only; there is nothing to show.
    support: none
  facts:
    description: Sets C(flavourctl_devices).
    support: full
"""

EXAMPLES = r"""
- name: Read the host's PCI devices
  flavourctl.vfio.facts:

- name: Show the vfio driver each ConnectX VF would get
  ansible.builtin.debug:
    msg: "{{ item.address }}: {{ item.vfio.module }}"
  loop: "{{ flavourctl_devices | selectattr('vendor', 'eq', '15b3') | selectattr('physfn') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts set.
  returned: always
  type: dict
  contains:
    flavourctl_devices:
      description:
        - C(flavourctl list --json), one object for each device, keys as flavourctl's manual
          gives them (address, vendor, device, subsystemVendor, subsystemDevice, class,
          revision, modalias, driver, driverModule, driverOverride, modules, vfio, iommuGroup,
          iommuGroupBlockers, headerType, vfioBound, physfn, virtfns, sriov, numaNode, parents).
      type: list
      elements: dict
      sample:
        - address: "0000:01:00.1"
          vendor: 15b3
          device: 101e
          class: "020000"
          driver: mlx5_core
          vfio: {module: mlx5_vfio_pci, driver: null, candidates: [mlx5_vfio_pci, vfio_pci], tie: null}
          iommuGroup: 11
          iommuGroupBlockers: []
          physfn: "0000:01:00.0"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.flavourctl.vfio.plugins.module_utils.flavourctl import Flavourctl, common_argument_spec


def main():
    argument_spec = dict(match=dict(type="str"))
    argument_spec.update(common_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    devices = Flavourctl(module).devices(module.params["match"])
    module.exit_json(changed=False, ansible_facts=dict(flavourctl_devices=devices))


if __name__ == "__main__":
    main()
