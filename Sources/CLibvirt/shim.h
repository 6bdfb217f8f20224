#ifndef VEEM_CLIBVIRT_SHIM_H
#define VEEM_CLIBVIRT_SHIM_H
#include <stddef.h>
#include <stdlib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* Swift cannot express VIR_DOMAIN_EVENT_CALLBACK's cast; register the lifecycle callback here. */
typedef void (*veem_lifecycle_cb)(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque);

static inline int veem_register_lifecycle(virConnectPtr conn, veem_lifecycle_cb cb, void *opaque, virFreeCallback freecb) {
    return virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                            VIR_DOMAIN_EVENT_CALLBACK(cb), opaque, freecb);
}
#endif
