package stack

import (
	"errors"
	"fmt"
	"net"
)

// HostIP is an address of this machine that an EndpointSlice may name: EndpointSlices refuse
// loopback and link-local addresses, so a test that lets the API server reach the operator
// through a Service (as it does in a cluster) listens on one of the machine's own interfaces.
// Any machine that reaches the Go module proxy has one.
func HostIP() (net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	var v6 net.IP
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipnet, ok := a.(*net.IPNet)
			if !ok || !ipnet.IP.IsGlobalUnicast() {
				continue
			}
			if ip4 := ipnet.IP.To4(); ip4 != nil {
				return ip4, nil
			}
			if v6 == nil {
				v6 = ipnet.IP
			}
		}
	}
	if v6 != nil {
		return v6, nil
	}
	return nil, errors.New("this machine has no global unicast address on an interface that is up: an EndpointSlice cannot point the API server at a local operator")
}
