package delivery

import (
	"container/list"
	"strings"
	"sync"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/store"
)

// cachedMessage is a message with its recipients indexed by person.
type cachedMessage struct {
	*relay.Message
	people map[string]*relay.Person
}

func newCachedMessage(m *relay.Message) *cachedMessage {
	c := &cachedMessage{Message: m, people: make(map[string]*relay.Person, len(m.Recipients))}
	for i := range m.Recipients {
		c.people[m.Recipients[i].Person.ID] = &m.Recipients[i].Person
	}
	return c
}

// person returns the recipient with the given id; nil for broadcasts.
func (c *cachedMessage) person(id string) *relay.Person {
	if id == "" {
		return nil
	}
	return c.people[id]
}

// messageCache keeps the most recently used messages decoded: a fan-out
// to ten thousand people reads its message once, not ten thousand times.
type messageCache struct {
	mu    sync.Mutex
	size  int
	order *list.List // of *cachedMessage, most recent first
	byID  map[string]*list.Element
	store *store.Store
}

func newMessageCache(size int, s *store.Store) *messageCache {
	return &messageCache{size: size, order: list.New(), byID: make(map[string]*list.Element), store: s}
}

func (c *messageCache) put(m *relay.Message) *cachedMessage {
	cm := newCachedMessage(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[m.ID]; ok {
		c.order.Remove(el)
	}
	c.byID[m.ID] = c.order.PushFront(cm)
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byID, last.Value.(*cachedMessage).ID)
	}
	return cm
}

// forget drops message id, so that the next get reads it from the store.
func (c *messageCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.order.Remove(el)
		delete(c.byID, id)
	}
}

// get returns the message, reading it from the store when not cached.
// The store holds the earliest acceptance of a message id, which the
// cache may not have seen first; a later put replaces a stale entry.
func (c *messageCache) get(id string) (*cachedMessage, error) {
	c.mu.Lock()
	if el, ok := c.byID[id]; ok {
		c.order.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*cachedMessage), nil
	}
	c.mu.Unlock()
	m, err := c.store.Message(id)
	if err != nil {
		return nil, err
	}
	return c.put(m), nil
}

// allAtOnce reports whether the message of delivery id is cached and
// goes to every channel at once (not fallback), so that one channel's
// outcome never moves another's turn. Like priority, it never reads the
// store.
func (c *messageCache) allAtOnce(deliveryID string) bool {
	msgID, _, _ := strings.Cut(deliveryID, ".")
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[msgID]; ok {
		return el.Value.(*cachedMessage).Mode != relay.ModeFallback
	}
	return false
}

// priority returns the priority of the message of delivery id when the
// message is cached, and normal otherwise. It never reads the store, so it
// is safe on the store's writer goroutine.
func (c *messageCache) priority(deliveryID string) relay.Priority {
	msgID, _, _ := strings.Cut(deliveryID, ".")
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[msgID]; ok {
		return el.Value.(*cachedMessage).Priority
	}
	return relay.PriorityNormal
}
