package connector

// Wrapped is a Source that wraps another: embedded in a wrapping source, it
// answers for the wrapped one through the optional interfaces Bounded,
// KeyChecker, Failer, WatermarkCarrier and AllAtOnce (with neutral answers where the wrapped source
// does not implement them), so that wrapping hides none of them.
type Wrapped struct {
	Source
}

// Bounded implements Bounded for the wrapped source.
func (w Wrapped) Bounded() bool {
	b, ok := w.Source.(Bounded)
	return ok && b.Bounded()
}

// Contradicted implements KeyChecker for the wrapped source (never closed
// when it checks no key).
func (w Wrapped) Contradicted() <-chan struct{} {
	if kc, ok := w.Source.(KeyChecker); ok {
		return kc.Contradicted()
	}
	return nil
}

// Contradiction implements KeyChecker for the wrapped source.
func (w Wrapped) Contradiction() error {
	if kc, ok := w.Source.(KeyChecker); ok {
		return kc.Contradiction()
	}
	return nil
}

// Failed implements Failer for the wrapped source (never closed when it
// cannot fail on its own).
func (w Wrapped) Failed() <-chan struct{} {
	if f, ok := w.Source.(Failer); ok {
		return f.Failed()
	}
	return nil
}

// Failure implements Failer for the wrapped source.
func (w Wrapped) Failure() error {
	if f, ok := w.Source.(Failer); ok {
		return f.Failure()
	}
	return nil
}

// ReadAllAtOnce implements AllAtOnce for the wrapped source.
func (w Wrapped) ReadAllAtOnce() bool {
	a, ok := w.Source.(AllAtOnce)
	return ok && a.ReadAllAtOnce()
}

// CarriesWatermarks implements WatermarkCarrier for the wrapped source.
func (w Wrapped) CarriesWatermarks() bool {
	wc, ok := w.Source.(WatermarkCarrier)
	return ok && wc.CarriesWatermarks()
}

var (
	_ Bounded          = Wrapped{}
	_ KeyChecker       = Wrapped{}
	_ Failer           = Wrapped{}
	_ WatermarkCarrier = Wrapped{}
	_ AllAtOnce        = Wrapped{}
)
