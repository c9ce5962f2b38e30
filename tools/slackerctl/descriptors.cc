#include "tools/slackerctl/descriptors.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {
namespace {

namespace pb = google::protobuf;

// Names listed one by one in an error line; the rest are counted, so that the
// line stays one readable line however many there are.
constexpr size_t kNamesShown = 20;

std::string NameList(const std::vector<std::string>& names) {
  if (names.size() <= kNamesShown) return absl::StrJoin(names, ", ");
  return absl::StrCat(
      absl::StrJoin(names.begin(), names.begin() + kNamesShown, ", "), " and ",
      names.size() - kNamesShown, " more");
}

absl::StatusOr<std::vector<std::string>> SortedChildren(
    Cluster& c, const std::string& path) {
  absl::StatusOr<discovery::NodeChildren> children = c.zk().GetChildren(path);
  if (!children.ok()) return children.status();
  std::sort(children->names.begin(), children->names.end());
  return std::move(children->names);
}

// A message or an enum type: exactly one of the two is set.
struct Type {
  const pb::Descriptor* message = nullptr;
  const pb::EnumDescriptor* enumeration = nullptr;
};

// The types printed so far, and those nested in them (printed with them).
struct Printed {
  std::set<const pb::Descriptor*> messages;
  std::set<const pb::EnumDescriptor*> enums;

  // True if `message`, or a message it is nested in, has been printed.
  bool Has(const pb::Descriptor* message) const {
    for (; message != nullptr; message = message->containing_type()) {
      if (messages.count(message) != 0) return true;
    }
    return false;
  }
  bool Has(const pb::EnumDescriptor* e) const {
    return enums.count(e) != 0 || Has(e->containing_type());
  }
};

// Marks `message`, and every type nested in it, as printed; appends the
// types that the fields of all of them use to `uses`.
void Cover(const pb::Descriptor* message, Printed* printed,
           std::deque<Type>* uses) {
  printed->messages.insert(message);
  for (int i = 0; i < message->enum_type_count(); ++i) {
    printed->enums.insert(message->enum_type(i));
  }
  for (int i = 0; i < message->field_count(); ++i) {
    const pb::FieldDescriptor* field = message->field(i);
    if (field->message_type() != nullptr) {
      uses->push_back({field->message_type(), nullptr});
    } else if (field->enum_type() != nullptr) {
      uses->push_back({nullptr, field->enum_type()});
    }
  }
  for (int i = 0; i < message->nested_type_count(); ++i) {
    Cover(message->nested_type(i), printed, uses);
  }
}

void AddFile(const pb::FileDescriptor* file,
             std::map<std::string, std::string>* added,
             pb::FileDescriptorSet* set, absl::Status* conflict) {
  pb::FileDescriptorProto proto;
  file->CopyTo(&proto);
  const std::string serialized = proto.SerializeAsString();
  auto [it, inserted] = added->emplace(file->name(), serialized);
  if (!inserted) {
    if (it->second != serialized && conflict->ok()) {
      *conflict = absl::InvalidArgumentError(
          absl::StrCat("two namespaces carry different versions of ",
                       file->name(), "; export them one at a time"));
    }
    return;
  }
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFile(file->dependency(i), added, set, conflict);
  }
  *set->add_file() = std::move(proto);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListNamespaces(Cluster& c) {
  absl::StatusOr<std::vector<std::string>> names =
      SortedChildren(c, c.layout().NamespacesPath());
  if (absl::IsNotFound(names.status())) return std::vector<std::string>();
  return names;
}

std::string WhereNamespacesAre(Cluster& c) {
  absl::StatusOr<std::vector<std::string>> namespaces = ListNamespaces(c);
  if (!namespaces.ok()) return std::string(namespaces.status().message());
  if (namespaces->empty()) return "the cluster has no namespaces";
  return absl::StrCat("its namespaces: ", NameList(*namespaces));
}

std::string NoNamespaceMessage(Cluster& c, const std::string& ns,
                               absl::string_view also) {
  absl::StatusOr<std::vector<std::string>> namespaces = ListNamespaces(c);
  if (namespaces.ok() && std::find(namespaces->begin(), namespaces->end(),
                                   ns) != namespaces->end()) {
    return absl::StrCat("namespace ", ns, " of cluster ", c.name(),
                        " has no method records: its servers publish none "
                        "(are they Slacker servers?)");
  }
  return absl::StrCat("unknown namespace ", ns, " in cluster ", c.name(), also,
                      "; ", WhereNamespacesAre(c));
}

absl::StatusOr<std::vector<std::string>> ListMethods(Cluster& c,
                                                     const std::string& ns) {
  absl::StatusOr<std::vector<std::string>> methods =
      SortedChildren(c, c.layout().FunctionsPath(ns));
  if (methods.ok() && methods->empty()) {
    return absl::NotFoundError(absl::StrCat("no method records for ", ns));
  }
  return methods;
}

std::optional<int> LoadNamespace(Cluster& c, const std::string& ns,
                                 NamespaceDescriptors* out) {
  absl::StatusOr<std::vector<std::string>> methods = ListMethods(c, ns);
  if (!methods.ok()) {
    if (absl::IsNotFound(methods.status())) {
      return Fail(kUsage, NoNamespaceMessage(c, ns));
    }
    return Fail(kUnreachable, methods.status().ToString());
  }
  out->name = ns;
  out->methods = *std::move(methods);
  out->first = std::make_unique<Method>();
  if (std::optional<int> failed =
          LoadMethod(c, ns, out->methods.front(), out->first.get())) {
    return failed;
  }
  out->service = out->first->descriptor->service();
  return std::nullopt;
}

std::string TypeDefinitions(
    const std::vector<const pb::Descriptor*>& messages,
    const std::vector<const pb::EnumDescriptor*>& enums) {
  std::deque<Type> pending;
  for (const pb::Descriptor* message : messages) {
    pending.push_back({message, nullptr});
  }
  for (const pb::EnumDescriptor* e : enums) pending.push_back({nullptr, e});
  Printed printed;
  std::string text;
  // Breadth first: the types asked for, then those their fields use.
  for (; !pending.empty(); pending.pop_front()) {
    const Type next = pending.front();
    if (next.message != nullptr) {
      if (printed.Has(next.message)) continue;
      Cover(next.message, &printed, &pending);
      absl::StrAppend(&text, text.empty() ? "" : "\n", "// ",
                      next.message->full_name(), " (",
                      next.message->file()->name(), ")\n",
                      next.message->DebugString());
    } else {
      if (printed.Has(next.enumeration)) continue;
      printed.enums.insert(next.enumeration);
      absl::StrAppend(&text, text.empty() ? "" : "\n", "// ",
                      next.enumeration->full_name(), " (",
                      next.enumeration->file()->name(), ")\n",
                      next.enumeration->DebugString());
    }
  }
  return text;
}

absl::StatusOr<pb::FileDescriptorSet> FileSetOf(
    const std::vector<const pb::FileDescriptor*>& files) {
  pb::FileDescriptorSet set;
  std::map<std::string, std::string> added;
  absl::Status conflict;
  for (const pb::FileDescriptor* file : files) {
    AddFile(file, &added, &set, &conflict);
  }
  if (!conflict.ok()) return conflict;
  return set;
}

}  // namespace slacker::slackerctl
