package binding

/*
#include "glue.h"
*/
import "C"

// DeviceType is the kind of a compute device.
type DeviceType string

const (
	DeviceCPU   DeviceType = "CPU"
	DeviceGPU   DeviceType = "GPU"
	DeviceIGPU  DeviceType = "iGPU"
	DeviceAccel DeviceType = "ACCEL"
)

// Device is one compute device of a loaded backend.
type Device struct {
	Name        string
	Description string
	Backend     string
	Type        DeviceType
	FreeBytes   uint64
	TotalBytes  uint64
}

// Devices lists the devices of every loaded backend.
func Devices() []Device {
	ensureInit()
	n := int(C.ggml_backend_dev_count())
	out := make([]Device, 0, n)
	for i := 0; i < n; i++ {
		d := C.ggml_backend_dev_get(C.size_t(i))
		var free, total C.size_t
		C.ggml_backend_dev_memory(d, &free, &total)
		dev := Device{
			Name:        C.GoString(C.ggml_backend_dev_name(d)),
			Description: C.GoString(C.ggml_backend_dev_description(d)),
			Backend:     C.GoString(C.ggml_backend_reg_name(C.ggml_backend_dev_backend_reg(d))),
			FreeBytes:   uint64(free),
			TotalBytes:  uint64(total),
		}
		switch C.ggml_backend_dev_type(d) {
		case C.GGML_BACKEND_DEVICE_TYPE_CPU:
			dev.Type = DeviceCPU
		case C.GGML_BACKEND_DEVICE_TYPE_GPU:
			dev.Type = DeviceGPU
		case C.GGML_BACKEND_DEVICE_TYPE_IGPU:
			dev.Type = DeviceIGPU
		default:
			dev.Type = DeviceAccel
		}
		out = append(out, dev)
	}
	return out
}

// Backends lists the names of the loaded backends ("CPU", "CUDA", ...).
func Backends() []string {
	ensureInit()
	n := int(C.ggml_backend_reg_count())
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, C.GoString(C.ggml_backend_reg_name(C.ggml_backend_reg_get(C.size_t(i)))))
	}
	return out
}

// IsGPU reports whether the device is a GPU, discrete or integrated.
func (d Device) IsGPU() bool { return d.Type == DeviceGPU || d.Type == DeviceIGPU }

// GPUs are the GPU devices in the order llama.cpp numbers them for
// --main-gpu and --tensor-split.
func GPUs() []Device {
	var out []Device
	for _, d := range Devices() {
		if d.IsGPU() {
			out = append(out, d)
		}
	}
	return out
}

// HasGPU reports whether a GPU device is available.
func HasGPU() bool { return len(GPUs()) > 0 }
